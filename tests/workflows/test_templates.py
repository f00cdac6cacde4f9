"""Template expressions: a small parser, no eval, deterministic results."""

from __future__ import annotations

import pytest

from engine.workflows import templates

CTX = {
    "input": {"name": "Ada", "n": 3, "tags": ["a", "b"], "flag": "false", "obj": {"k": "v"}},
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
