"""Connector catalog, instances and actions (workflows API) through the real stack."""

from __future__ import annotations

from typing import Any

from tests.conftest import Stack, new_user, wait_for
from tests.fakes.slack import VALID_TOKEN
from tests.integrations.conftest import Fakes


async def test_catalog_lists_every_connector_with_schemas(istack: Stack) -> None:
    _user, key = await new_user(istack, ["connectors:read"])
    async with istack.api(key) as api:
        r = await api.get("/api/v1/connectors", params={"available": "true"})
    assert r.status_code == 200
    catalog = {c["type"]: c for c in r.json()}
    assert {"slack", "smtp", "stripe", "discord", "http", "gmail"} <= set(catalog)
    slack = catalog["slack"]
    assert slack["credentialType"] == "oauth"
    assert [f["name"] for f in slack["credentialFields"] if f["required"]] == ["bot_token"]
    actions = {a["name"]: a for a in slack["actions"]}
    assert set(actions) == {"send_message", "update_message", "add_reaction"}
    send = actions["send_message"]
    assert send["toolName"] == "SLACK_SEND_MESSAGE"
    assert set(send["inputSchema"]["required"]) == {"channel", "text"}
    assert "ts" in send["outputSchema"]["properties"]
    stripe_actions = {a["name"] for a in catalog["stripe"]["actions"]}
    assert stripe_actions == {
        "create_customer",
        "create_invoice",
        "create_invoice_item",
        "create_payment_intent",
        "retrieve_customer",
    }


async def _slack_instance(api: Any, config: dict[str, Any]) -> dict[str, Any]:
    cred = (
        await api.post(
            "/api/v1/credentials",
            json={"name": "bot", "provider": "slack", "data": {"bot_token": VALID_TOKEN}},
        )
    ).json()
    r = await api.post(
        "/api/v1/connectors",
        json={
            "name": "Production Slack",
            "type": "slack",
            "credentialId": cred["id"],
            "config": config,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_instances_crud_and_validation(istack: Stack) -> None:
    _user, key = await new_user(istack)
    _other, other_key = await new_user(istack)
    async with istack.api(key) as api:
        inst = await _slack_instance(api, {"defaultChannel": "#general"})
        assert inst["id"].startswith("ctr_")
        assert inst["config"] == {"defaultChannel": "#general"}
        assert [i["id"] for i in (await api.get("/api/v1/connectors")).json()] == [inst["id"]]
        assert (await api.get(f"/api/v1/connectors/{inst['id']}")).json()["name"] == inst["name"]
        r = await api.post("/api/v1/connectors", json={"name": "s", "type": "slack"})
        assert (r.status_code, r.json()["code"]) == (400, "CREDENTIAL_REQUIRED")
        r = await api.post("/api/v1/connectors", json={"name": "s", "type": "fax"})
        assert (r.status_code, r.json()["code"]) == (400, "UNKNOWN_CONNECTOR")
        r = await api.post(
            "/api/v1/connectors",
            json={"name": "s", "type": "stripe", "credentialId": inst["credentialId"]},
        )
        assert (r.status_code, r.json()["code"]) == (400, "CREDENTIAL_PROVIDER_MISMATCH")
        r = await api.post("/api/v1/connectors", json={"name": "web", "type": "http"})
        assert r.status_code == 201
    async with istack.api(other_key) as api:
        assert (await api.get(f"/api/v1/connectors/{inst['id']}")).status_code == 404
        r = await api.post(f"/api/v1/connectors/{inst['id']}/actions/send_message", json={})
        assert r.status_code == 404
        r = await api.post(
            "/api/v1/connectors",
            json={"name": "steal", "type": "slack", "credentialId": inst["credentialId"]},
        )
        assert (r.status_code, r.json()["code"]) == (404, "CREDENTIAL_NOT_FOUND")
        assert (await api.delete(f"/api/v1/connectors/{inst['id']}")).status_code == 404


async def test_run_action_sync_uses_the_instance_credential_and_config(
    istack: Stack, fakes: Fakes
) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        inst = await _slack_instance(api, {"defaultChannel": "C0GENERAL"})
        url = f"/api/v1/connectors/{inst['id']}/actions/send_message"
        r = await api.post(url, json={"params": {"text": "deployed"}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["successful"] is True and body["data"]["channel"] == "C0GENERAL"
        assert fakes.slack.messages[("C0GENERAL", body["data"]["ts"])]["text"] == "deployed"
        r = await api.post(url, json={"params": {"text": "x", "channel": "C0NOPE"}})
        assert r.status_code == 422 and r.json()["errorType"] == "NotFoundError"
        r = await api.post(url, json={"params": {"channel": "C0GENERAL"}})
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"
        assert r.json()["error"].startswith("Invalid params: text: ")
        assert [e["field"] for e in r.json()["details"]["errors"]] == ["text"]
        r = await api.post(f"/api/v1/connectors/{inst['id']}/actions/fly", json={})
        assert (r.status_code, r.json()["code"]) == (404, "ACTION_NOT_FOUND")


async def test_async_action_is_a_cancellable_tool_execution_job(istack: Stack, target: Any) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        inst = (await api.post("/api/v1/connectors", json={"name": "web", "type": "http"})).json()
        r = await api.post(
            f"/api/v1/connectors/{inst['id']}/actions/request",
            json={"params": {"url": target.base_url + "/slow"}, "async": True},
        )
        assert r.status_code == 202, r.text
        execution_id = r.json()["executionId"]
        await wait_for(target.slow_started.wait)

        async def listed() -> dict[str, Any] | None:
            jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
            return next((j for j in jobs["data"]["jobs"] if j["id"] == execution_id), None)

        job = await wait_for(listed)
        assert job["type"] == "tool_execution" and job["status"] == "running"
        assert job["metadata"]["connectorId"] == inst["id"]
        r = await api.delete(f"/api/v2/users/jobs/{execution_id}")
        assert r.status_code == 202, r.text

        async def cancelled() -> bool:
            found = await listed()
            return found is not None and found["status"] == "cancelled"

        await wait_for(cancelled)
