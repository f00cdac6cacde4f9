"""Apps and the app-admin integration routes (app-integrations API): auth rules, shapes,
error codes."""

from __future__ import annotations

import time

from tests.conftest import ADMIN_KEY, Stack, new_user
from tests.integrations.conftest import REDIRECT, bearer, new_app, user_jwt


async def test_app_secret_is_shown_once_and_apps_are_per_user(istack: Stack) -> None:
    _user, key = await new_user(istack)
    _other, other_key = await new_user(istack)
    app_id, secret = await new_app(istack, key)
    assert app_id.startswith("app_") and secret.startswith("ays_")
    async with istack.api(key) as api:
        listed = (await api.get("/api/v1/apps")).json()
        assert [a["appId"] for a in listed] == [app_id]
        assert secret not in str(listed)
        one = (await api.get(f"/api/v1/apps/{app_id}")).json()
        assert one["redirectUrls"] == [REDIRECT] and "jwtSecret" not in one
        r = await api.patch(f"/api/v1/apps/{app_id}", json={"redirectUrls": ["ftp://x"]})
        assert r.status_code == 422
        r = await api.patch(
            f"/api/v1/apps/{app_id}",
            json={"name": "Renamed", "redirectUrls": [REDIRECT, REDIRECT + "/b"]},
        )
        assert r.json()["name"] == "Renamed" and len(r.json()["redirectUrls"]) == 2
    async with istack.api(other_key) as api:
        assert (await api.get(f"/api/v1/apps/{app_id}")).status_code == 404
        assert (await api.get("/api/v1/apps")).json() == []
        r = await api.get(f"/v1/{app_id}/integrations/config")
        assert r.status_code == 404 and r.json()["error"]["code"] == "APP_NOT_FOUND"


async def test_available_search_and_configure(istack: Stack) -> None:
    _user, key = await new_user(istack)
    app_id, _secret = await new_app(istack, key)
    async with istack.api(key) as api:
        r = await api.get(f"/v1/{app_id}/integrations/available")
        toolkits = {t["toolkit"]: t for t in r.json()["integrations"]}
        assert {"gmail", "slack", "stripe", "smtp", "discord", "http"} <= set(toolkits)
        assert toolkits["gmail"] == {
            "toolkit": "gmail",
            "displayName": "Gmail",
            "curated": True,
            "authType": "oauth2",
            "enabled": False,
            "description": toolkits["gmail"]["description"],
            "categories": ["email", "communication", "productivity", "google"],
            "installable": True,  # this stack has the platform's Google client
            "sandbox": False,
            "requires": None,
            "operatorSettings": [],
        }
        assert toolkits["stripe"]["authType"] == "credentials"
        assert toolkits["stripe"]["installable"] and not toolkits["stripe"]["sandbox"]
        assert (toolkits["slack"]["authType"], toolkits["slack"]["sandbox"]) == ("oauth2", False)
        discord = toolkits["discord"]  # no Discord app configured here: the sandbox stands in
        assert (discord["authType"], discord["installable"], discord["sandbox"]) == (
            "oauth2",
            True,
            True,
        )
        assert discord["requires"] == "operator OAuth client"
        assert discord["operatorSettings"] == [
            "TASKYARD_DISCORD_CLIENT_ID",
            "TASKYARD_DISCORD_CLIENT_SECRET",
            "TASKYARD_DISCORD_BOT_TOKEN",
        ]
        r = await api.get(f"/v1/{app_id}/integrations/available", params={"search": "invoice"})
        found = [(t["toolkit"], t["curated"]) for t in r.json()["integrations"]]
        assert found == [("stripe", True), ("quickbooks", False)]
        r = await api.get(f"/v1/{app_id}/integrations/available", params={"search": "salesforce"})
        [salesforce] = r.json()["integrations"]
        assert {k: salesforce[k] for k in ("toolkit", "displayName", "curated")} == {
            "toolkit": "salesforce",
            "displayName": "Salesforce",
            "curated": False,
        }
        assert (salesforce["installable"], salesforce["requires"]) == (
            False,
            "a Taskyard connector",
        )
        r = await api.get(f"/v1/{app_id}/integrations/available", params={"search": "calendar"})
        found = [(t["toolkit"], t["curated"]) for t in r.json()["integrations"]]
        assert found[0] == ("google-calendar", True) and ("calendly", False) in found
        r = await api.get(f"/v1/{app_id}/integrations/available", params={"search": "payments"})
        assert ("stripe", True) in [(t["toolkit"], t["curated"]) for t in r.json()["integrations"]]
        r = await api.post(f"/v1/{app_id}/integrations/configure", json={"toolkit": "salesforce"})
        assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_FOUND"
        assert "no connector" in r.json()["error"]["message"]

        r = await api.post(
            f"/v1/{app_id}/integrations/configure",
            json={"toolkit": "gmail", "displayName": "Mail", "scopes": []},
        )
        assert r.status_code == 201, r.text
        assert r.json()["integration"]["displayName"] == "Mail"
        r = await api.post(f"/v1/{app_id}/integrations/configure", json={"toolkit": "gmail"})
        assert r.status_code == 200
        r = await api.post(f"/v1/{app_id}/integrations/configure", json={"toolkit": "fax"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_FOUND"
        assert "remediation" in r.json()["error"]
        config = (await api.get(f"/v1/{app_id}/integrations/config")).json()["integrations"]
        assert [(c["toolkit"], c["enabled"]) for c in config] == [("gmail", True)]

        r = await api.delete(f"/v1/{app_id}/integrations/configure/gmail")
        assert r.json() == {"success": True, "toolkit": "gmail"}
        r = await api.delete(f"/v1/{app_id}/integrations/configure/gmail")
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_ENABLED"
        r = await api.post(
            f"/v1/{app_id}/integrations/connect",
            json={"toolkit": "gmail", "redirectUrl": REDIRECT, "userId": "u1"},
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_ENABLED"
        assert "/configure" in r.json()["error"]["remediation"]


async def test_admin_routes_take_only_api_keys(istack: Stack) -> None:
    _user, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("slack",))
    token = user_jwt(secret, app_id, "end-user-1")
    async with istack.api() as anon:
        for path in ("available", "config"):
            r = await anon.get(f"/v1/{app_id}/integrations/{path}", headers=bearer(token))
            assert r.status_code == 401, path
            assert r.json()["error"]["code"] == "MISSING_API_KEY"
        r = await anon.post(
            f"/v1/{app_id}/integrations/configure", json={"toolkit": "http"}, headers=bearer(token)
        )
        assert r.status_code == 401
    _reader, reader_key = await new_user(istack, ["integrations:read"])
    async with istack.api(reader_key) as api:
        assert (await api.get(f"/v1/{app_id}/integrations/config")).status_code == 404
    async with istack.api(ADMIN_KEY) as admin:  # a global key may administer any app
        assert (await admin.get(f"/v1/{app_id}/integrations/config")).status_code == 200


async def test_end_user_jwts_are_verified(istack: Stack) -> None:
    _user, key = await new_user(istack)
    app_a, secret_a = await new_app(istack, key, toolkits=("slack",))
    app_b, secret_b = await new_app(istack, key, toolkits=("slack",))
    path = f"/v1/{app_a}/integrations/connections"
    async with istack.api() as anon:
        ok = await anon.get(path, headers=bearer(user_jwt(secret_a, app_a, "u1")))
        assert ok.status_code == 200 and ok.json() == {"connections": []}
        cases = {
            "other app's secret": user_jwt(secret_b, app_a, "u1"),
            "expired": user_jwt(secret_a, app_a, "u1", exp=int(time.time()) - 3600),
            "wrong audience": user_jwt(secret_a, app_b, "u1"),
            "garbage": "a.b.c",
        }
        for name, token in cases.items():
            r = await anon.get(path, headers=bearer(token))
            assert r.status_code == 401, name
            assert r.json()["error"]["code"] in ("INVALID_TOKEN", "TOKEN_EXPIRED"), name
            assert r.json()["error"]["remediation"]
        r = await anon.get(path, headers=bearer(user_jwt(secret_a, app_a, "u1")))
        assert r.status_code == 200
        r = await anon.get(
            "/v1/app_missing/integrations/tools", headers=bearer(user_jwt(secret_a, app_a, "u1"))
        )
        assert r.status_code == 404
        r = await anon.get(
            f"/v1/{app_a}/integrations/tools", headers=bearer(user_jwt(secret_a, app_a, "u1"))
        )
        assert [t["name"] for t in r.json()["tools"]] == [
            "SLACK_SEND_MESSAGE",
            "SLACK_UPDATE_MESSAGE",
            "SLACK_ADD_REACTION",
        ]
        assert r.json()["tools"][0]["inputSchema"]["required"] == ["channel", "text"]
        r = await anon.get(
            f"/v1/{app_a}/integrations/tools",
            params={"toolkit": "gmail"},
            headers=bearer(user_jwt(secret_a, app_a, "u1")),
        )
        assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_ENABLED"
    async with istack.api(key) as api:  # API key: userId is required where the seed says so
        r = await api.post(
            f"/v1/{app_a}/integrations/execute",
            json={"toolName": "SLACK_SEND_MESSAGE", "params": {}},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "USER_ID_REQUIRED"
        rotated = await api.post(f"/api/v1/apps/{app_a}/secret")
        assert rotated.status_code == 200
    async with istack.api() as anon:  # the old secret stops working at once
        r = await anon.get(path, headers=bearer(user_jwt(secret_a, app_a, "u1")))
        assert r.status_code == 401
        r = await anon.get(path, headers=bearer(user_jwt(rotated.json()["jwtSecret"], app_a, "u1")))
        assert r.status_code == 200
