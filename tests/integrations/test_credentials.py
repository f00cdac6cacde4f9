"""Credentials (workflows API) through the API, with the real stack and a local Slack."""

from __future__ import annotations

import pytest

from connectors.errors import NotFoundError
from tests.conftest import ADMIN_KEY, Stack, new_user
from tests.fakes.slack import VALID_TOKEN
from tests.integrations.conftest import Fakes

SLACK = {
    "name": "Slack Bot Token",
    "description": "Production Slack bot",
    "type": "oauth",
    "provider": "slack",
    "data": {"bot_token": VALID_TOKEN, "app_id": "A01234567"},
    "metadata": {"scopes": ["chat:write", "channels:read"]},
}


async def test_create_list_get_never_show_the_secret(istack: Stack) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        r = await api.post("/api/v1/credentials", json=SLACK)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["id"].startswith("cred_")
        assert created["dataPreview"] == {"bot_token": "••••oken", "app_id": "A01234567"}
        assert created["metadata"] == {"scopes": ["chat:write", "channels:read"]}
        listed = (await api.get("/api/v1/credentials")).json()
        one = (await api.get(f"/api/v1/credentials/{created['id']}")).json()
    for body in (created, listed, one):
        assert VALID_TOKEN not in str(body)
    assert [c["id"] for c in listed] == [created["id"]]
    assert one["provider"] == "slack" and one["type"] == "oauth"


async def test_short_secrets_are_fully_masked_and_fields_are_validated(istack: Stack) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        r = await api.post(
            "/api/v1/credentials",
            json={
                "name": "smtp",
                "provider": "smtp",
                "data": {
                    "host": "smtp.example.com",
                    "port": 587,
                    "user": "ada",
                    "password": "hunter2",
                },
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["dataPreview"] == {
            "host": "smtp.example.com",
            "port": "587",
            "user": "ada",
            "password": "••••",
        }
        r = await api.post(
            "/api/v1/credentials", json={"name": "x", "provider": "slack", "data": {"app_id": "A1"}}
        )
        assert r.status_code == 400
        assert r.json()["code"] == "MISSING_CREDENTIAL_FIELDS"
        assert r.json()["details"]["missing"] == ["bot_token"]
        r = await api.post("/api/v1/credentials", json={**SLACK, "type": "api_key"})
        assert (r.status_code, r.json()["code"]) == (400, "CREDENTIAL_TYPE_MISMATCH")
        r = await api.post("/api/v1/credentials", json={**SLACK, "provider": "nope"})
        assert (r.status_code, r.json()["code"]) == (400, "UNKNOWN_PROVIDER")
        r = await api.post("/api/v1/credentials", json={"name": "x", "provider": "slack"})
        assert (r.status_code, r.json()["code"]) == (400, "MISSING_FIELDS")
        r = await api.post("/api/v1/credentials", content=b"{not json")
        assert r.status_code == 400
        assert (await api.get("/api/v1/credentials")).json()[0]["provider"] == "smtp"


async def test_patch_merges_data_and_keeps_required_fields(istack: Stack) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        cred = (await api.post("/api/v1/credentials", json=SLACK)).json()
        url = f"/api/v1/credentials/{cred['id']}"
        r = await api.patch(
            url, json={"name": "Renamed", "data": {"bot_token": "xoxb-new-token-9876"}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Renamed"
        assert r.json()["dataPreview"] == {"bot_token": "••••9876", "app_id": "A01234567"}
        r = await api.patch(url, json={"data": {"bot_token": None}})
        assert (r.status_code, r.json()["code"]) == (400, "MISSING_CREDENTIAL_FIELDS")
        r = await api.patch(url, json={"data": {"app_id": None}})
        assert r.status_code == 200 and r.json()["dataPreview"] == {"bot_token": "••••9876"}


async def test_another_users_credential_is_a_404(istack: Stack) -> None:
    _a, key_a = await new_user(istack)
    _b, key_b = await new_user(istack)
    async with istack.api(key_a) as api:
        cred = (await api.post("/api/v1/credentials", json=SLACK)).json()
    async with istack.api(key_b) as api:
        for method in ("GET", "PATCH", "DELETE"):
            r = await api.request(method, f"/api/v1/credentials/{cred['id']}", json={"name": "x"})
            assert r.status_code == 404, (method, r.text)
        r = await api.post(f"/api/v1/credentials/{cred['id']}/test")
        assert r.status_code == 404
        r = await api.post(
            "/api/v1/tools/execute",
            json={
                "toolName": "SLACK_SEND_MESSAGE",
                "credentialId": cred["id"],
                "params": {"channel": "C0GENERAL", "text": "hi"},
            },
        )
        assert (r.status_code, r.json()["code"]) == (404, "CREDENTIAL_NOT_FOUND")
        assert (await api.get("/api/v1/credentials")).json() == []
    async with istack.api(key_a) as api:
        assert (await api.get(f"/api/v1/credentials/{cred['id']}")).status_code == 200


async def test_scopes_and_global_keys(istack: Stack) -> None:
    user_id, read_only = await new_user(istack, ["credentials:read"])
    async with istack.api(read_only) as api:
        r = await api.post("/api/v1/credentials", json=SLACK)
        assert r.status_code == 403
    async with istack.api(ADMIN_KEY) as admin:
        r = await admin.post("/api/v1/credentials", json=SLACK)
        assert (r.status_code, r.json()["code"]) == (400, "USER_ID_REQUIRED")
        r = await admin.post("/api/v1/credentials", json={**SLACK, "userId": "nobody"})
        assert r.status_code == 404
        r = await admin.post("/api/v1/credentials", json={**SLACK, "userId": user_id})
        assert r.status_code == 201
    async with istack.api(read_only) as api:
        assert len((await api.get("/api/v1/credentials")).json()) == 1


async def _key_for(stack: Stack, user_id: str, permissions: list[str]) -> str:
    async with stack.admin as admin:
        r = await admin.post(
            "/api/v2/keys", json={"name": "k", "permissions": permissions, "userId": user_id}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


async def test_testing_a_credential_needs_the_write_scope(istack: Stack) -> None:
    # The test call sends the stored secret to the vendor, so a read-only key may not start it.
    user_id, read_only = await new_user(istack, ["credentials:read"])
    writer = await _key_for(istack, user_id, ["credentials:write"])
    jobs_reader = await _key_for(istack, user_id, ["users:read"])
    async with istack.api(writer) as api:
        cred = (await api.post("/api/v1/credentials", json=SLACK)).json()
    async with istack.api(read_only) as api:
        assert (await api.get(f"/api/v1/credentials/{cred['id']}")).status_code == 200
        r = await api.post(f"/api/v1/credentials/{cred['id']}/test")
    assert r.status_code == 403, r.text
    assert r.json() == {
        "error": "Insufficient permissions: this route requires credentials:write",
        "code": "PERMISSION_DENIED",
    }
    async with istack.api(jobs_reader) as api:
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
        assert jobs["data"]["jobs"] == []
    async with istack.api(writer) as api:
        r = await api.post(f"/api/v1/credentials/{cred['id']}/test")
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["credentialId"] == cred["id"]
    async with istack.api() as api:
        spec = (await api.get("/api/v1/openapi", params={"version": "3.1"})).json()
    route = spec["paths"]["/api/v1/credentials/{id}/test"]["post"]
    assert route["security"][0] == {"ApiKeyAuth": ["credentials:write"]}


async def test_test_call_runs_as_a_job_and_reports_the_vendor_answer(
    istack: Stack, fakes: Fakes
) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        good = (await api.post("/api/v1/credentials", json=SLACK)).json()
        bad = (
            await api.post(
                "/api/v1/credentials", json={**SLACK, "data": {"bot_token": "xoxb-revoked-000000"}}
            )
        ).json()
        r = await api.post(f"/api/v1/credentials/{good['id']}/test")
        assert r.status_code == 200, r.text
        assert r.json()["success"] is True
        assert r.json()["details"]["team"] == "Taskyard Test"
        r = await api.post(f"/api/v1/credentials/{bad['id']}/test")
        assert r.json()["success"] is False and r.json()["errorType"] == "AuthError"
        execution_id = r.json()["executionId"]
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
        assert execution_id in [j["id"] for j in jobs["data"]["jobs"]]
        smtp = (
            await api.post(
                "/api/v1/credentials",
                json={"name": "m", "provider": "http", "data": {"token": "abc"}},
            )
        ).json()
        r = await api.post(f"/api/v1/credentials/{smtp['id']}/test")
        assert (r.status_code, r.json()["code"]) == (400, "TEST_NOT_SUPPORTED")
    assert fakes.slack.calls("auth.test")


async def test_tools_execute_with_a_credential_id(istack: Stack, fakes: Fakes) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        cred = (await api.post("/api/v1/credentials", json=SLACK)).json()
        r = await api.post(
            "/api/v1/tools/execute",
            json={
                "toolName": "SLACK_SEND_MESSAGE",
                "credentialId": cred["id"],
                "params": {"channel": "C0GENERAL", "text": "from a stored credential"},
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["successful"] is True
        ts = r.json()["data"]["ts"]
        r = await api.post(
            "/api/v1/tools/execute",
            json={
                "toolName": "STRIPE_RETRIEVE_CUSTOMER",
                "credentialId": cred["id"],
                "params": {"customer_id": "cus_1"},
            },
        )
        assert (r.status_code, r.json()["code"]) == (400, "CREDENTIAL_PROVIDER_MISMATCH")
    assert fakes.slack.messages[("C0GENERAL", ts)]["text"] == "from a stored credential"


async def test_delete_is_refused_while_a_connector_uses_it(istack: Stack) -> None:
    _user, key = await new_user(istack)
    async with istack.api(key) as api:
        cred = (await api.post("/api/v1/credentials", json=SLACK)).json()
        inst = (
            await api.post(
                "/api/v1/connectors",
                json={"name": "prod", "type": "slack", "credentialId": cred["id"]},
            )
        ).json()
        r = await api.delete(f"/api/v1/credentials/{cred['id']}")
        assert (r.status_code, r.json()["code"]) == (409, "CREDENTIAL_IN_USE")
        assert r.json()["details"] == {"connectorIds": [inst["id"]]}
        assert r.json()["error"] == f"Credential is used by connector instances: {inst['id']}"
        assert (await api.delete(f"/api/v1/connectors/{inst['id']}")).status_code == 200
        r = await api.delete(f"/api/v1/credentials/{cred['id']}")
        assert r.status_code == 200 and r.json() == {"success": True, "id": cred["id"]}
        assert (await api.get(f"/api/v1/credentials/{cred['id']}")).status_code == 404


async def test_activities_open_a_credential_for_its_owner_only(istack: Stack) -> None:
    owner, key = await new_user(istack)
    other, _ = await new_user(istack)
    async with istack.api(key) as api:
        cred = (await api.post("/api/v1/credentials", json=SLACK)).json()
    store = istack.deps.secrets
    assert (await store.open_credential(owner, cred["id"]))["bot_token"] == VALID_TOKEN
    for user_id, credential_id in (
        (other, cred["id"]),
        (owner, "cred_missing"),
        (other, "ca_missing"),
    ):
        with pytest.raises(NotFoundError):
            await store.open_credential(user_id, credential_id)
