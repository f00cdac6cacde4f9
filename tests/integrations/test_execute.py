"""``/v1/{appId}/integrations/execute`` with a local Slack: success, failures, isolation, cancel."""

from __future__ import annotations

import asyncio
from typing import Any

from store import connections
from tests.conftest import Stack, new_user, wait_for
from tests.fakes.slack import VALID_TOKEN
from tests.integrations.conftest import Fakes, bearer, new_app, user_jwt

SEND = {"toolName": "SLACK_SEND_MESSAGE", "params": {"channel": "C0GENERAL", "text": "hello"}}


async def connect_slack(stack: Stack, app_id: str, token: str, bot_token: str = VALID_TOKEN) -> str:
    async with stack.api() as anon:
        r = await anon.post(
            f"/v1/{app_id}/integrations/connect",
            headers=bearer(token),
            json={"toolkit": "slack", "credentials": {"bot_token": bot_token}},
        )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ACTIVE" and "authUrl" not in r.json()
    return str(r.json()["connectionId"])


async def test_slack_send_message_end_to_end(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("slack",))
    token = user_jwt(secret, app_id, "alice")
    await connect_slack(istack, app_id, token)
    async with istack.api() as anon:
        r = await anon.post(f"/v1/{app_id}/integrations/execute", headers=bearer(token), json=SEND)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["successful"] is True and body["executionId"].startswith("exec_")
    assert fakes.slack.messages[("C0GENERAL", body["data"]["ts"])]["text"] == "hello"
    async with istack.api(key) as api:  # API key + userId acts for the same end user
        r = await api.post(f"/v1/{app_id}/integrations/execute", json={**SEND, "userId": "alice"})
        assert r.status_code == 200, r.text
        r = await api.get(f"/v1/{app_id}/integrations/connect")
        assert r.status_code == 405  # wrong method, still this family's shape
        assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_failures_answer_422_or_502_with_remediation(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("slack",))
    token = user_jwt(secret, app_id, "bob")
    path = f"/v1/{app_id}/integrations/execute"
    async with istack.api() as anon:
        r = await anon.post(path, headers=bearer(token), json=SEND)
        assert r.status_code == 422  # no connected account yet
        error = r.json()["error"]
        assert error["code"] == "INTEGRATIONS_EXECUTION_FAILED"
        assert error["remediation"].startswith("Check the tool name and parameters.")
        connection_id = await connect_slack(istack, app_id, token)
        cases: list[tuple[dict[str, Any], int]] = [
            ({"toolName": "SLACK_LAUNCH_ROCKET", "params": {}}, 422),
            ({"toolName": "SLACK_SEND_MESSAGE", "params": {"channel": "C0GENERAL"}}, 422),
            ({"toolName": "SLACK_SEND_MESSAGE", "params": {"channel": "C0NOPE", "text": "x"}}, 422),
            ({"toolName": "STRIPE_RETRIEVE_CUSTOMER", "params": {"customer_id": "cus_1"}}, 400),
        ]
        for body, status in cases:
            r = await anon.post(path, headers=bearer(token), json=body)
            assert r.status_code == status, (body, r.text)
            assert r.json()["error"]["remediation"]
        for _ in range(3):  # every attempt meets a Slack outage
            fakes.slack.fail_next("server_error")
        r = await anon.post(path, headers=bearer(token), json=SEND)
        assert r.status_code == 502, r.text
        assert r.json()["error"]["code"] == "INTEGRATIONS_EXECUTION_FAILED"
        assert r.json()["error"]["details"]["errorType"] == "TransientError"
        await connections.set_status(istack.deps.db, connection_id, "EXPIRED", "revoked")
        r = await anon.post(path, headers=bearer(token), json=SEND)
        assert r.status_code == 422
        assert r.json()["error"]["details"] == {"connectionId": connection_id, "status": "EXPIRED"}


async def test_end_users_and_apps_are_isolated(istack: Stack) -> None:
    _owner, key = await new_user(istack)
    _stranger, stranger_key = await new_user(istack)
    app_a, secret_a = await new_app(istack, key, toolkits=("slack",))
    app_b, secret_b = await new_app(istack, key, toolkits=("slack",))
    alice_a = user_jwt(secret_a, app_a, "alice")
    conn = await connect_slack(istack, app_a, alice_a)
    async with istack.api() as anon:
        others = (
            (app_b, user_jwt(secret_b, app_b, "alice")),
            (app_a, user_jwt(secret_a, app_a, "eve")),
        )
        for app_id, token in others:
            r = await anon.get(f"/v1/{app_id}/integrations/connections", headers=bearer(token))
            assert r.json() == {"connections": []}
            r = await anon.delete(
                f"/v1/{app_id}/integrations/connections/{conn}", headers=bearer(token)
            )
            assert r.status_code == 404
            r = await anon.post(
                f"/v1/{app_id}/integrations/execute",
                headers=bearer(token),
                json={**SEND, "connectionId": conn},
            )
            assert r.status_code == 422
        r = await anon.get(
            f"/v1/{app_a}/integrations/connections",
            headers=bearer(user_jwt(secret_a, app_a, "eve")),
            params={"userId": "alice"},
        )
        assert r.status_code == 404  # a JWT cannot name another end user
        r = await anon.get(f"/v1/{app_b}/integrations/connections", headers=bearer(alice_a))
        assert r.status_code == 401  # app A's token is not app B's
    async with istack.api(stranger_key) as api:
        for method, path in (
            ("GET", "connections"),
            ("DELETE", f"connections/{conn}"),
            ("POST", "execute"),
        ):
            r = await api.request(
                method, f"/v1/{app_a}/integrations/{path}", json={**SEND, "userId": "alice"}
            )
            assert r.status_code == 404, (path, r.text)
    async with istack.api(key) as api:
        r = await api.get(f"/v1/{app_b}/integrations/connections")
        assert r.json() == {"connections": []}
        r = await api.get(f"/v1/{app_a}/integrations/connections", params={"userId": "alice"})
        assert [c["id"] for c in r.json()["connections"]] == [conn]


async def test_an_execution_is_a_cancellable_job(istack: Stack, target: Any) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("http",))
    token = user_jwt(secret, app_id, "carol")
    async with istack.api() as anon, istack.api(key) as api:
        running = asyncio.create_task(
            anon.post(
                f"/v1/{app_id}/integrations/execute",
                headers=bearer(token),
                json={"toolName": "HTTP_REQUEST", "params": {"url": target.base_url + "/slow"}},
            )
        )
        await wait_for(target.slow_started.wait)

        async def job() -> dict[str, Any] | None:
            jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
            return next(
                (j for j in jobs["data"]["jobs"] if j["metadata"].get("appId") == app_id), None
            )

        found = await wait_for(job)
        assert found["status"] == "running" and found["metadata"]["endUserId"] == "carol"
        r = await api.delete(f"/api/v2/users/jobs/{found['id']}")
        assert r.status_code == 202
        r = await running
    assert r.status_code == 422
    assert r.json()["error"]["details"] == {"executionId": found["id"], "errorType": "Cancelled"}
