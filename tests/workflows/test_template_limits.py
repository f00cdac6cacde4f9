"""Hostile templates in definitions: answered within a second, the API stays responsive,
limits are 422s naming step and field; and fallbacks render in a real run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from engine.services.definitions import MAX_CONFIG_STRING, MAX_TEMPLATES
from tests.conftest import Stack, new_user
from tests.workflows.helpers import create_workflow, execute, finished, http_step
from tests.workflows.server import StepTarget

URL = "http://127.0.0.1:9/x"
BOUND = 1.0  # seconds: for the hostile request, and for a health check made meanwhile


async def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


async def post_while_checking_health(
    stack: Stack, key: str, path: str, body: dict[str, Any]
) -> httpx.Response:
    """POST ``body``, with a health check sent at the same time; both within BOUND."""
    async with stack.api(key) as api, stack.api() as other:
        (r, took), (health, health_took) = await asyncio.gather(
            timed(api.post(path, json=body)), timed(other.get("/api/v2/health"))
        )
    assert health.status_code == 200, health.text
    assert took < BOUND, f"{path} took {took:.2f}s"
    assert health_took < BOUND, f"health took {health_took:.2f}s during {path}"
    return r


def assert_names(r: httpx.Response, step: str, field: str, words: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "INVALID_DEFINITION"
    assert any(
        e["step"] == step and e["field"] == field and words in e["message"]
        for e in body["details"]["errors"]
    ), body


def definition(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "hostile", "definition": {"steps": list(steps)}}


@pytest.mark.parametrize(
    "body",
    [
        "{{" * 20_000,
        "{{a|" + " " * 20_000,
        "{{" + "x" * 60_000,
    ],
    ids=["open-braces", "open-fallback", "unclosed"],
)
async def test_unclosed_templates_in_a_body_are_scanned_in_linear_time(
    stack: Stack, body: str
) -> None:
    _user, key = await new_user(stack)
    step = http_step("a", URL, config={"method": "POST", "body": body})
    r = await post_while_checking_health(stack, key, "/api/v1/workflows", definition(step))
    assert r.status_code == 201, r.text  # a "{{" without "}}" is plain text


async def test_a_config_string_over_the_limit_is_a_422(stack: Stack) -> None:
    _user, key = await new_user(stack)
    body = {"nested": ["{{" * (MAX_CONFIG_STRING // 2 + 1)]}
    step = http_step("big", URL, config={"method": "POST", "body": body})
    r = await post_while_checking_health(stack, key, "/api/v1/workflows", definition(step))
    assert_names(r, "big", "config.body.nested.0", f"longer than {MAX_CONFIG_STRING}")


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("!" * 1500 + "input.x", "nests deeper"),
        ("(" * 900 + "input.x" + ")" * 900, "nests deeper"),
        ("not " * 400 + "input.x", "nests deeper"),
        ("x" * 3000, "too long"),
    ],
    ids=["bangs", "parentheses", "nots", "long"],
)
async def test_deeply_nested_expressions_are_a_422_not_a_500(
    stack: Stack, expression: str, words: str
) -> None:
    _user, key = await new_user(stack)
    step = http_step("deep", URL + "?q={{" + expression + "}}")
    r = await post_while_checking_health(stack, key, "/api/v1/workflows", definition(step))
    assert_names(r, "deep", "config.url", words)
    if_step = http_step("cond", URL, **{"if": "!" * 1500 + "input.x"})
    r = await post_while_checking_health(stack, key, "/api/v1/workflows", definition(if_step))
    assert r.status_code == 422, r.text  # the model's 2,000 characters or the nesting


async def test_too_many_templates_in_a_definition_is_a_422(stack: Stack) -> None:
    _user, key = await new_user(stack)
    half = MAX_TEMPLATES // 2 + 1
    first = http_step("first", URL, config={"headers": {"X-A": "{{input.a}}" * half}})
    second = http_step("second", URL, config={"headers": {"X-B": "{{input.b}}" * half}})
    r = await post_while_checking_health(stack, key, "/api/v1/workflows", definition(first, second))
    assert_names(r, "second", "config.headers.X-B", f"more than {MAX_TEMPLATES} templates")
    many = http_step("many", URL, config={"body": "{{x}}" * 19_000})
    r = await post_while_checking_health(stack, key, "/api/v1/workflows", definition(many))
    assert r.status_code == 422, r.text


async def test_fallbacks_render_in_a_run(stack: Stack, steps_target: StepTarget) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step(
                    "greet",
                    t.url("/echo/greet"),
                    config={
                        "method": "POST",
                        "body": {
                            "name": "{{input.name | Anonymous}}",
                            "text": "hi {{input.nick|friend}}, {{ input.n > 2 | never }}",
                            "same": "{{input.n}} {{input.n == 3}}",
                        },
                    },
                ),
            ],
            output={"who": "{{steps.greet.output.body.json.name | nobody}}"},
        )
        execution_id = await execute(api, wf["id"], {"name": "", "n": 3})
        body = await finished(api, execution_id)
    assert body["status"] == "completed", body
    assert t.bodies["greet"] == [{"name": "Anonymous", "text": "hi friend, true", "same": "3 true"}]
    assert body["output"] == {"who": "Anonymous"}
