"""``POST /api/v1/tools/execute`` with the HTTP connector, end to end."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from tests.conftest import Stack, make_settings, new_user, run_stack, wait_for
from tests.fakes.server import serve
from tests.fakes.target import Target
from tests.plain import plain

CANARY = "canary-9f8e7d6c5b4a"


def history_text(node: object) -> str:
    """All of a history as text, with every payload's base64 data decoded."""
    parts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "data" and isinstance(v, str):
                    try:
                        parts.append(base64.b64decode(v).decode(errors="replace"))
                    except ValueError:
                        parts.append(v)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            parts.append(str(value))

    walk(node)
    return "\n".join(parts)


async def _execute(stack: Stack, key: str, params: dict, **extra: object):
    async with stack.api(key) as api:
        return await api.post(
            "/api/v1/tools/execute", json={"toolName": "HTTP_REQUEST", "params": params, **extra}
        )


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "bearer", "token": CANARY}, "authorization", f"Bearer {CANARY}"),
        (
            {"type": "basic", "username": "ann", "password": CANARY},
            "authorization",
            "Basic " + base64.b64encode(f"ann:{CANARY}".encode()).decode(),
        ),
        ({"type": "api_key", "key": CANARY, "header": "X-Key"}, "x-key", CANARY),
    ],
)
async def test_auth_reaches_the_server_but_never_history(
    stack: Stack, target, auth: dict, header: str, expected: str
) -> None:
    _user, key = await new_user(stack)
    r = await _execute(
        stack,
        key,
        {
            "method": "POST",
            "url": target.base_url + "/sink",
            "auth": auth,
            "query": {"q": "1"},
            "headers": {"X-Trace": "trace-public-1", "Cookie": CANARY},
            "body": {"hello": "world"},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["body"] == {"ok": True}
    seen = target.requests[-1]
    assert seen.headers[header] == expected
    assert seen.headers["cookie"] == CANARY
    assert seen.headers["x-trace"] == "trace-public-1" and seen.query == {"q": "1"}
    assert seen.json == {"hello": "world"}
    history = await stack.client.get_workflow_handle(r.json()["executionId"]).fetch_history()
    text = history_text((await plain(history, stack.client)).to_json_dict())
    assert "trace-public-1" in text  # the public part is in history…
    assert CANARY not in text  # …the secrets are not


async def test_a_redirect_to_another_origin_gets_no_credentials(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    other = Target()
    async with serve(other.app()) as other_url:
        r = await _execute(
            stack,
            key,
            {
                "method": "POST",
                "url": f"{target.base_url}/redirect?"
                + urlencode({"to": other_url + "/echo", "code": 307}),
                "auth": {"type": "bearer", "token": CANARY},
                "headers": {"X-Api-Key": CANARY, "Cookie": CANARY, "X-Trace": "trace-public-2"},
                "body": {"hello": "world"},
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == 200
    assert target.requests[-1].headers["authorization"] == f"Bearer {CANARY}"
    [landed] = other.requests
    assert CANARY not in str(landed.headers)
    assert landed.headers["x-trace"] == "trace-public-2"
    assert landed.method == "POST" and landed.json == {"hello": "world"}


async def test_async_execution_is_a_job(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    r = await _execute(stack, key, {"url": target.base_url + "/echo"}, **{"async": True})
    assert r.status_code == 202 and r.json()["status"] == "pending"
    execution_id = r.json()["executionId"]
    async with stack.api(key) as api:

        async def done() -> dict | None:
            job = (await api.get(f"/api/v2/users/jobs/{execution_id}")).json()["data"]
            return job if job["status"] == "completed" else None

        job = await wait_for(done)
    assert job["type"] == "tool_execution" and job["progress"] == 100


async def test_non_2xx_is_a_result_and_network_failure_is_an_error(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    r = await _execute(stack, key, {"url": target.base_url + "/status/503"})
    assert r.status_code == 200 and r.json()["data"]["status"] == 503
    gone = await _execute(stack, key, {"url": "http://127.0.0.1:9/", "timeout": 2})
    assert gone.status_code == 502 and gone.json()["successful"] is False
    assert gone.json()["errorType"] == "TransientError"


async def test_bad_requests_are_4xx_in_the_v1_shape(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        unknown = await api.post("/api/v1/tools/execute", json={"toolName": "NOPE", "params": {}})
        missing = await api.post("/api/v1/tools/execute", json={"params": {}})
        bad_params = await api.post(
            "/api/v1/tools/execute",
            json={"toolName": "HTTP_REQUEST", "params": {"url": "x", "method": "BREW"}},
        )
        not_object = await api.post("/api/v1/tools/execute", json=[1, 2])
    assert unknown.status_code == 400 and isinstance(unknown.json()["error"], str)
    assert missing.status_code == 400
    assert bad_params.status_code == 422 and "method" in bad_params.json()["error"]
    assert not_object.status_code == 400
    async with stack.admin as admin:
        no_user = await admin.post(
            "/api/v1/tools/execute", json={"toolName": "HTTP_REQUEST", "params": {"url": "x"}}
        )
    assert no_user.status_code == 400 and no_user.json()["code"] == "USER_ID_REQUIRED"


async def test_private_addresses_are_refused_by_default(
    temporal_env, database_url: str, tmp_path, target
) -> None:
    settings = make_settings(temporal_env, database_url, tmp_path, allow_private_urls=False)
    async with run_stack(temporal_env, settings) as locked:
        _user, key = await new_user(locked)
        for url in (
            target.base_url + "/echo",
            "http://localhost:1/",
            "http://169.254.169.254/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://[64:ff9b::7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:a9fe:a9fe]/",
        ):
            r = await _execute(locked, key, {"url": url, "timeout": 3})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["errorType"] == "InvalidInputError"
    assert target.requests == []
