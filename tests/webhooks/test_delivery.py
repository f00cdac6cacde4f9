"""End to end on the real stack: jobs emit events, deliveries arrive signed and are logged."""

from __future__ import annotations

import json

from tests.conftest import Stack, new_user, wait_for
from tests.webhooks.helpers import create_hook, received, verify_both
from tests.webhooks.receiver import Receiver


async def test_tool_completion_is_delivered_signed_and_logged(
    stack: Stack, receiver: Receiver, target
) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/hook"),
            ["tool.completed"],
            headers={"X-Tenant": "acme", "Authorization": "Bearer rcv"},
        )
        r = await api.post(
            "/api/v1/tools/execute",
            json={"toolName": "HTTP_REQUEST", "params": {"url": target.base_url + "/echo"}},
        )
        assert r.status_code == 200, r.text
        execution_id = r.json()["executionId"]
        [rec] = await received(receiver, "/hook")
        body = verify_both(rec, hook["secret"])
        assert body["event"] == "tool.completed"
        assert body["timestamp"].endswith("Z")
        assert body["data"]["executionId"] == execution_id
        assert body["data"]["toolName"] == "HTTP_REQUEST"
        assert body["data"]["output"]["status"] == 200
        assert rec.headers["x-webhook-event"] == "tool.completed"
        delivery_id = rec.headers["x-webhook-delivery"]
        assert rec.headers["webhook-id"] == delivery_id
        assert rec.headers["x-tenant"] == "acme"
        assert rec.headers["authorization"] == "Bearer rcv"
        assert json.loads(rec.body) == body

        async def logged() -> dict | None:
            r = await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery_id}")
            assert r.status_code == 200, r.text
            return r.json() if r.json()["status"] == "succeeded" else None

        detail = await wait_for(logged)
        assert detail["attempts"] == 1 and detail["event"] == "tool.completed"
        [attempt] = detail["attemptLog"]
        assert attempt["statusCode"] == 200 and attempt["responseSnippet"] == "answer 200"
        assert detail["payload"]["data"]["executionId"] == execution_id

        r = await api.get(f"/api/v1/webhooks/{hook['id']}")
        shown = r.json()
        assert "secret" not in shown
        assert shown["headers"] == {"X-Tenant": "acme", "Authorization": "********"}

        async def as_job() -> list | None:
            r = await api.get("/api/v2/users/jobs", params={"type": "webhook_delivery"})
            jobs = [j for j in r.json()["data"]["jobs"] if j["id"] == delivery_id]
            return jobs if jobs and jobs[0]["status"] == "completed" else None

        [job] = await wait_for(as_job)
        assert job["type"] == "webhook_delivery"
