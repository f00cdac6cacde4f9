"""Template expressions: a small parser, no eval, deterministic results, linear scanning."""

from __future__ import annotations

import time

import pytest

from engine.workflows import templates

CTX = {
    "input": {
        "name": "Ada",
        "n": 3,
        "tags": ["a", "b"],
        "flag": "false",
        "obj": {"k": "v"},
        "blank": "",
    },
    "steps": {
        "s1": {
            "status": "succeeded",
            "output": {
                "body": {
                    "id": 7,
                    "items": [{"id": "first", "n": 1}, {"id": "second", "n": 2}],
                    "odd key": True,
                }
            },
        }
    },
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{input.name}}", "Ada"),
        ("{{ input.n }}", 3),
        ("{{input.obj}}", {"k": "v"}),
        ("{{steps.s1.output.body.items[1].id}}", "second"),
        ("{{steps.s1.output.body.items.0.n}}", 1),
        ("{{steps.s1.output.body.items[-1].n}}", 2),
        ("{{steps.s1.output.body['odd key']}}", True),
        ("{{steps.s1.output.body.missing.deeper}}", None),
        ("hi {{input.name}} #{{input.n}} {{input.obj}} {{input.none}}!", 'hi Ada #3 {"k":"v"} !'),
        ("{{input.n >= 3 && steps.s1.status == 'succeeded'}}", True),
        ("{{input.n > 3 || not input.flag}}", True),  # the string "false" is false
        ("{{'b' in input.tags}}", True),
        ("{{input.none < 3}}", False),
        ('{{(input.n == 3) and !(input.name != "Ada")}}', True),
        ("plain text", "plain text"),
    ],
)
def test_render(text: str, value: object) -> None:
    assert templates.render(text, CTX) == value


def test_render_walks_structures_and_keeps_keys() -> None:
    config = {"{{input.name}}": ["{{input.n}}", {"x": "{{steps.s1.output.body.id}}"}], "n": 1}
    assert templates.render(config, CTX) == {"{{input.name}}": [3, {"x": 7}], "n": 1}


@pytest.mark.parametrize(
    "expression",
    ["input.n >", "__import__('os')", "input.(n)", "input.a[", "1 +", "", "input.a ]", "a.b.c = 1"],
)
def test_bad_expressions_are_errors(expression: str) -> None:
    with pytest.raises(templates.TemplateError):
        templates.parse(expression)


def test_conditions_accept_templates_or_bare_expressions() -> None:
    assert templates.condition("input.n == 3", CTX) is True
    assert templates.condition("{{input.flag}}", CTX) is False
    assert templates.condition("{{input.n}}", CTX) is True


def test_paths_and_expressions_report_what_is_read() -> None:
    found = dict(templates.expressions({"a": ["x {{input.n}}", {"b": "{{steps.s1.status}}"}]}))
    assert found == {"a.0": "input.n", "a.1.b": "steps.s1.status"}
    node = templates.parse("steps.s1.output.id == input.n")
    assert list(templates.paths(node)) == [("steps", "s1", "output", "id"), ("input", "n")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{input.none | Anonymous}}", "Anonymous"),
        ("{{ input.blank|Anonymous }}", "Anonymous"),
        ("{{input.name | Anonymous}}", "Ada"),
        ("{{input.obj | none}}", {"k": "v"}),  # a whole template keeps the value itself
        ("{{input.n | 0}}", 3),
        ("hi {{input.none|there}}!", "hi there!"),
        ('[{{input.none | " "}}]', "[ ]"),  # one pair of quotes is taken off
        ("{{input.none | it's you}}", "it's you"),
        ("{{input.none|}}x", "x"),
        ("{{input.none | a | b}}", "a | b"),  # the first top-level | splits
        ("{{'a|b' == input.name | no}}", False),  # a | inside quotes is not a fallback
        ("{{input.none || input.n | no}}", True),  # || is "or"
        ("{{input.n > 5 | big}}", False),  # false is a value, not missing
        ("{{input.none |}}", ""),
    ],
)
def test_fallbacks(text: str, value: object) -> None:
    assert templates.render(text, CTX) == value


def test_a_fallback_reads_no_paths_and_counts_in_conditions() -> None:
    node = templates.parse("steps.s1.output.id | input.n")
    assert list(templates.paths(node)) == [("steps", "s1", "output", "id")]
    assert templates.condition("input.none | true", CTX) is True
    assert templates.condition("{{input.none | no}}", CTX) is False


@pytest.mark.parametrize(
    "text",
    [
        "{{" * 20_000,
        "{{a|" + " " * 20_000,
        "{{" + "x" * 50_000,
        "}}{{" * 20_000,
        "{{x}}" + "{" * 50_000 + "}" * 50_000,
    ],
)
def test_scanning_is_linear(text: str) -> None:
    started = time.perf_counter()
    templates.has_template(text)
    list(templates.expressions({"body": text}))
    try:
        templates.render({"body": text}, CTX)
    except templates.TemplateError:
        pass
    # A quadratic scanner took seconds on these; linear ones take tens of milliseconds (the
    # bound leaves room for a loaded CI machine).
    assert time.perf_counter() - started < 2.0


def test_an_unclosed_template_is_text_and_the_first_close_ends_a_template() -> None:
    assert templates.render("{{a|" + " " * 10, CTX) == "{{a|" + " " * 10
    assert templates.render("{{input.n}}}}", CTX) == "3}}"
    assert list(templates.scan("a {{x}} {{y")) == [templates.Found(2, 7, "x")]


@pytest.mark.parametrize(
    "expression",
    [
        "!" * 1500 + "x",
        "not " * 40 + "x",
        "(" * 500 + "x" + ")" * 500,
        "!(" * 20 + "x" + ")" * 20,
        "x" * 2001,
        "a |",  # an empty fallback is fine, an empty expression is not:
        " | a",
    ],
)
def test_hostile_or_broken_expressions_are_template_errors(expression: str) -> None:
    if expression == "a |":
        assert templates.parse(expression) == templates.Fallback(templates.Path(("a",)), "")
        return
    with pytest.raises(templates.TemplateError):
        templates.parse(expression)


def test_nesting_within_the_limit_and_long_chains_evaluate() -> None:
    depth = templates.MAX_DEPTH
    assert templates.render("{{" + "!" * depth + "input.n}}", CTX) is (depth % 2 == 0)
    assert templates.render("{{" + "(" * depth + "input.n" + ")" * depth + "}}", CTX) == 3
    chain = "||".join(["x"] * 600) + "||input.n == 3"
    assert templates.render("{{" + chain + "}}", CTX) is True
    chain = "&&".join(["1"] * 600) + "&&x"
    assert templates.render("{{" + chain + "}}", CTX) is False
    assert list(templates.paths(templates.parse(chain))) == [("x",)]


def test_text_templates_report_missing_values_and_stop_at_their_limit() -> None:
    text = templates.compile_text("Hi {{input.none}}, {{ input.blank }} {{input.x|y}} {{input.n}}")
    assert text.render(CTX, limit=100) == ("Hi ,  y 3", ["input.none", "input.blank"])
    with pytest.raises(templates.TextTooLong):
        text.render({"input": {"n": "x" * 1000}}, limit=100)
    with pytest.raises(templates.TemplateError):
        templates.compile_text("ok {{input.n ==}}")
