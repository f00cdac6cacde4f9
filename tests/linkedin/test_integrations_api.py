"""The user-integrations API through the real API, worker and Temporal, with the sandbox
provider."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from sqlalchemy import update
from sqlmodel import col

from store.db import utcnow
from store.linkedin import LinkedInOAuthState, state_hash
from tests.conftest import Stack, new_user
from tests.linkedin.helpers import RETURN_URL, connect, follow, open_start, rebase

LEGACY = "/api/v2/users/integrations/linkedin-integration/:userId"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_status_before_connecting(stack: Stack) -> None:
    user_id, key = await new_user(stack, ["users:read"])
    async with stack.api(key) as api:
        r = await api.get("/api/v2/users/integrations")
    assert r.status_code == 200
    setup = r.json()["data"]["linkedin"].pop("setupUrl")
    assert setup.startswith(
        stack.settings.api_base_url + "/api/v2/users/integrations/linkedin/setup?"
    )
    assert r.json() == {
        "userId": user_id,
        "success": True,
        "data": {
            "linkedin": {
                "connected": False,
                "setupUrl": setup,
                "profileUrl": None,
                "name": None,
                "connectionCount": None,
                "connectedAt": None,
                "provider": None,
            },
            "webhooks": {"configured": False, "endpoints": [], "status": "inactive"},
            "summary": {"total": 2, "connected": 0, "completionPercentage": 0},
        },
    }


async def test_the_setup_url_connects_in_the_browser(stack: Stack) -> None:
    """The dashboard shows ``setupUrl`` while not connected; opening it connects."""
    user_id, key = await new_user(stack, ["users:read"])
    async with stack.api(key) as api:
        setup = (await api.get("/api/v2/users/integrations")).json()["data"]["linkedin"]["setupUrl"]
        other, _ = await new_user(stack, ["users:read"])
        async with stack.api() as browser:
            for forged in (setup.replace(user_id, other), setup[:-3] + "AAA"):
                r = await browser.get(rebase(forged, stack))
                assert r.status_code == 400 and r.json()["code"] in (
                    "INVALID_SETUP_LINK",
                    "INVALID_QUERY",
                ), r.text
        done = await follow(stack, setup)
        assert done.status_code == 200, done.text
        linkedin = (await api.get("/api/v2/users/integrations")).json()["data"]["linkedin"]
    assert linkedin["connected"] is True and linkedin.get("setupUrl") is None


async def test_global_key_is_pointed_at_the_legacy_route(stack: Stack) -> None:
    async with stack.admin as admin:
        for method, path in (
            ("GET", "/api/v2/users/integrations"),
            ("POST", "/api/v2/users/integrations/linkedin"),
        ):
            r = await admin.request(method, path, json={} if method == "POST" else None)
            assert r.status_code == 400
            assert r.json() == {
                "error": "When using global API key, please use the specific route: " + LEGACY,
                "availableRoute": LEGACY,
            }


async def test_permission_denied_has_permission_help(stack: Stack) -> None:
    _user, key = await new_user(stack, ["users:read"])
    async with stack.api(key) as api:
        r = await api.post("/api/v2/users/integrations/linkedin", json={})
    assert r.status_code == 403
    body = r.json()
    assert body["error"] is True and body["code"] == "PERMISSION_DENIED"
    assert body["message"] == "Insufficient permissions for integration management"
    assert body["version"] == "2.0" and ISO.match(body["timestamp"])
    assert body["permissionHelp"]["required"] == "users:write"
    assert body["permissionHelp"]["available"] == ["users:read"]
    assert body["permissionHelp"]["documentation"].startswith("https://")


async def test_sandbox_connect_flow_and_status(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/users/integrations/linkedin",
            json={"returnUrl": RETURN_URL, "scopes": ["openid", "profile"]},
        )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert r.json()["userId"] == user_id and ISO.match(data["expiresAt"])
    start = urlsplit(data["authUrl"])
    assert start.path == "/api/v2/users/integrations/linkedin/start"
    assert parse_qs(start.query) == {"state": [data["state"]]}
    async with httpx.AsyncClient() as browser:
        auth = urlsplit(await open_start(browser, stack, data["authUrl"]))
        cookie = next(iter(browser.cookies.jar))
        query = parse_qs(auth.query)
        assert auth.path == "/api/v2/linkedin/sandbox/authorize"
        assert query["state"] == [data["state"]] and query["response_type"] == ["code"]
        assert query["scope"] == ["openid profile"]
        assert query["redirect_uri"][0].endswith("/api/v2/users/integrations/linkedin/callback")
        assert cookie.name.startswith("taskyard_oauth_") and cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.path == "/api/v2/users/integrations/linkedin" and not cookie.secure

        final = await follow(stack, urlunsplit(auth), browser=browser)
    assert final.status_code == 302
    assert final.headers["location"] == RETURN_URL + "?linkedin=connected"

    async with stack.api(key) as api:
        body = (await api.get("/api/v2/users/integrations")).json()["data"]
    linkedin = body["linkedin"]
    assert linkedin["connected"] is True and linkedin["provider"] == "sandbox"
    assert linkedin["profileUrl"].startswith("https://www.linkedin.com/in/sandbox-member-")
    assert linkedin["name"].startswith("Sandbox Member")
    assert isinstance(linkedin["connectionCount"], int) and ISO.match(linkedin["connectedAt"])
    assert body["summary"] == {"total": 2, "connected": 1, "completionPercentage": 50}

    # The state was single-use: replaying LinkedIn's redirect is refused.
    consent = await follow(stack, data["authUrl"], hops=1)
    assert consent.status_code == 400 and consent.json()["code"] == "INVALID_OAUTH_STATE"

    async with stack.api(key) as api:
        again = await api.post("/api/v2/users/integrations/linkedin", json={})
    assert again.status_code == 400
    err = again.json()
    assert err["error"] is True and err["code"] == "LINKEDIN_ALREADY_CONNECTED"
    assert err["message"] == "LinkedIn account is already connected"
    assert err["details"] == {
        "profileUrl": linkedin["profileUrl"],
        "connectedAt": linkedin["connectedAt"],
    }


async def test_state_expires(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        data = (await api.post("/api/v2/users/integrations/linkedin", json={})).json()["data"]
    async with stack.deps.db.engine.begin() as conn:  # the clock moves on past expiresAt
        await conn.execute(
            update(LinkedInOAuthState)
            .where(col(LinkedInOAuthState.state_hash) == state_hash(data["state"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = await follow(stack, data["authUrl"])
    assert r.status_code == 400 and r.json()["code"] == "INVALID_OAUTH_STATE"


async def test_unknown_state_and_denied_consent(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api() as anon:
        r = await anon.get(
            "/api/v2/users/integrations/linkedin/callback", params={"state": "forged", "code": "x"}
        )
    assert r.status_code == 400 and r.json()["code"] == "INVALID_OAUTH_STATE"
    async with stack.api(key) as api:
        data = (
            await api.post("/api/v2/users/integrations/linkedin", json={"returnUrl": RETURN_URL})
        ).json()["data"]
    async with httpx.AsyncClient(base_url=stack.base_url) as browser:
        await open_start(browser, stack, data["authUrl"])
        r = await browser.get(
            "/api/v2/users/integrations/linkedin/callback",
            params={
                "state": data["state"],
                "error": "user_cancelled_authorize",
                "error_description": "The user cancelled",
            },
        )
    assert r.status_code == 302
    assert r.headers["location"] == RETURN_URL + "?linkedin=error&error=user_cancelled_authorize"
    async with stack.api(key) as api:
        status = (await api.get("/api/v2/users/integrations")).json()["data"]["linkedin"]
    assert status["connected"] is False


async def test_legacy_routes_and_disconnect(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    other_id, other_key = await new_user(stack)
    async with stack.admin as admin:
        r = await admin.post(
            "/api/v2/users/integrations/setup-linkedin-integration",
            json={"userId": user_id, "returnUrl": RETURN_URL},
        )
        assert r.status_code == 200 and r.json()["userId"] == user_id
        assert (await follow(stack, r.json()["data"]["authUrl"])).status_code == 302
        r = await admin.get(f"/api/v2/users/integrations/linkedin-integration/{user_id}")
        assert r.status_code == 200 and r.json()["data"]["linkedin"]["connected"] is True
        r = await admin.post("/api/v2/users/integrations/setup-linkedin-integration", json={})
        assert r.status_code == 400 and r.json()["code"] == "USER_ID_REQUIRED"
        r = await admin.get("/api/v2/users/integrations/linkedin-integration/nobody")
        assert r.status_code == 404
    async with stack.api(other_key) as other:
        r = await other.get(f"/api/v2/users/integrations/linkedin-integration/{user_id}")
        assert r.status_code == 404  # another user's integration does not exist for them
        r = await other.get(f"/api/v2/users/integrations/linkedin-integration/{other_id}")
        assert r.status_code == 200 and r.json()["data"]["linkedin"]["connected"] is False
    async with stack.api(key) as api:
        r = await api.delete("/api/v2/users/integrations/linkedin")
        assert r.status_code == 200 and r.json()["data"]["linkedin"] == {"connected": False}
        r = await api.delete("/api/v2/users/integrations/linkedin")
        assert r.status_code == 404 and r.json()["code"] == "LINKEDIN_NOT_CONNECTED"
        r = await api.get("/api/v2/users/integrations")
        assert r.json()["data"]["linkedin"]["connected"] is False
    final = await connect(stack, key)  # and it can connect again
    assert final.headers["location"].endswith("linkedin=connected")


async def test_webhooks_count_towards_the_summary(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/webhooks",
            json={"name": "app", "url": "https://hooks.example/taskyard", "events": ["*"]},
        )
        assert r.status_code == 201, r.text
        await connect(stack, key)
        body = (await api.get("/api/v2/users/integrations")).json()["data"]
    assert body["webhooks"] == {
        "configured": True,
        "endpoints": ["https://hooks.example/taskyard"],
        "status": "active",
    }
    assert body["summary"] == {"total": 2, "connected": 2, "completionPercentage": 100}


async def test_bad_setup_input_is_a_clear_4xx(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        bodies: list[dict[str, object]] = [
            {"returnUrl": "javascript:alert(1)"},
            {"scopes": []},
            {"scopes": ["bad scope!"]},
            {"automationAccountId": "../x"},
        ]
        for body in bodies:
            r = await api.post("/api/v2/users/integrations/linkedin", json=body)
            assert r.status_code == 422, (body, r.text)
        r = await api.post("/api/v2/users/integrations/linkedin", content=b"{nope")
        assert r.status_code == 400
