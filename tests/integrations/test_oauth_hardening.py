"""The app-integrations API's OAuth hardening: redirect URLs on allowed origins only, a state
bound to the browser that started it, end-user JWTs that are short-lived and for one app,
and callers authenticated before their body is read."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import Stack, new_user
from tests.integrations.conftest import REDIRECT, bearer, new_app, user_jwt
from tests.integrations.test_oauth_flow import local, open_start, query_of
from tests.integrations.test_sandbox import consent


async def connect(stack: Stack, app_id: str, token: str) -> httpx.Response:
    async with stack.api() as anon:
        return await anon.post(
            f"/v1/{app_id}/integrations/connect",
            headers=bearer(token),
            json={"toolkit": "gmail", "redirectUrl": REDIRECT},
        )


async def test_redirect_urls_must_be_on_allowed_origins(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.settings, "oauth_return_origins", "https://app.example.com")
    _owner, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/apps", json={"name": "evil", "redirectUrls": ["https://evil.example/cb"]}
        )
        assert r.status_code == 422 and r.json()["code"] == "REDIRECT_URL_NOT_ALLOWED"
        assert r.json()["details"] == {"refused": ["https://evil.example/cb"]}
    app_id, secret = await new_app(stack, key, toolkits=("gmail",))  # REDIRECT is allowed
    async with stack.api(key) as api:
        r = await api.patch(
            f"/api/v1/apps/{app_id}", json={"redirectUrls": [REDIRECT, "https://evil.example/"]}
        )
        assert r.status_code == 422 and r.json()["code"] == "REDIRECT_URL_NOT_ALLOWED"
    token = user_jwt(secret, app_id, "u-origins")
    started = await connect(stack, app_id, token)
    assert started.status_code == 200, started.text

    # The operator narrows the origins: the app's URL is refused from now on, and a flow
    # already under way ends on a JSON answer rather than a redirect there.
    monkeypatch.setattr(stack.settings, "oauth_return_origins", "https://other.example")
    refused = await connect(stack, app_id, token)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INTEGRATIONS_REDIRECT_NOT_ALLOWED"
    back = await consent(stack, started.json()["authUrl"])
    assert back.status_code == 200 and "location" not in back.headers
    assert back.json()["status"] == "ACTIVE"

    monkeypatch.setattr(stack.settings, "oauth_return_origins", "")
    monkeypatch.setattr(stack.settings, "environment", "production")
    async with stack.api(key) as api:  # production with nothing listed: no origin at all
        r = await api.post("/api/v1/apps", json={"name": "p", "redirectUrls": [REDIRECT]})
    assert r.status_code == 422 and r.json()["code"] == "REDIRECT_URL_NOT_ALLOWED"


async def test_a_state_from_another_browser_is_refused_and_never_redirected(
    stack: Stack,
) -> None:
    """The attacker's own app and state, its consent page sent to a victim: the victim's
    browser never started it, so the callback refuses it (before, it redirected)."""
    _attacker, key = await new_user(stack)
    app_id, secret = await new_app(stack, key, toolkits=("gmail",))
    started = await connect(stack, app_id, user_jwt(secret, app_id, "mallory"))
    auth_url = started.json()["authUrl"]
    async with httpx.AsyncClient() as attacker, httpx.AsyncClient() as victim:
        consent_page = local(stack, await open_start(attacker, stack, auth_url))
        r = await victim.get(local(stack, auth_url))
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INTEGRATIONS_BROWSER_MISMATCH"
        at_callback = await victim.get(consent_page)
        assert at_callback.status_code == 302
        r = await victim.get(local(stack, at_callback.headers["location"]))
        assert r.status_code == 400 and "location" not in r.headers, r.text
        assert r.json()["error"]["code"] == "INTEGRATIONS_BROWSER_MISMATCH"
        r = await victim.get(
            f"{stack.base_url}/v1/{app_id}/integrations/callback",
            params={"state": "forged", "error": "access_denied"},
        )
        assert r.status_code == 400 and "location" not in r.headers
        assert r.json()["error"]["code"] == "INTEGRATIONS_INVALID_STATE"
        # The browser that started it still finishes (the refusals did not use the state).
        back = await consent(stack, auth_url, browser=attacker)
    assert back.status_code == 302
    assert query_of(back.headers["location"])["status"] == "ACTIVE"


async def test_end_user_jwts_need_exp_aud_and_a_bounded_lifetime(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _owner, key = await new_user(stack)
    app_id, secret = await new_app(stack, key)
    other_app, _ = await new_app(stack, key)
    now = int(time.time())
    path = f"/v1/{app_id}/integrations/connections"
    refused = {
        "no exp": (user_jwt(secret, app_id, "u1", exp=None), "INVALID_TOKEN"),
        "no aud": (user_jwt(secret, app_id, "u1", aud=None), "INVALID_TOKEN"),
        "another app's aud": (user_jwt(secret, other_app, "u1"), "INVALID_TOKEN"),
        "a week long": (
            user_jwt(secret, app_id, "u1", exp=now + 7 * 86400),
            "TOKEN_LIFETIME_TOO_LONG",
        ),
        "no iat, two days left": (
            user_jwt(secret, app_id, "u1", iat=None, exp=now + 2 * 86400),
            "TOKEN_LIFETIME_TOO_LONG",
        ),
    }
    async with stack.api() as anon:
        for name, (token, code) in refused.items():
            r = await anon.get(path, headers=bearer(token))
            assert r.status_code == 401, name
            assert r.json()["error"]["code"] == code, (name, r.text)
            assert "aud" in r.json()["error"]["remediation"]
        day = user_jwt(secret, app_id, "u1", exp=now + 23 * 3600)
        assert (await anon.get(path, headers=bearer(day))).status_code == 200
        monkeypatch.setattr(stack.settings, "app_jwt_max_lifetime_seconds", 300)
        r = await anon.get(path, headers=bearer(user_jwt(secret, app_id, "u1")))  # 10 minutes
        assert r.status_code == 401 and r.json()["error"]["code"] == "TOKEN_LIFETIME_TOO_LONG"
        short = user_jwt(secret, app_id, "u1", exp=now + 240)
        assert (await anon.get(path, headers=bearer(short))).status_code == 200


async def test_connect_and_execute_authenticate_before_reading_the_body(stack: Stack) -> None:
    _owner, key = await new_user(stack)
    app_id, secret = await new_app(stack, key, toolkits=("gmail",))
    forged = user_jwt("ays_not-the-secret-this-app-was-given", app_id, "u1")
    body = b"{" + b" " * 1_000_000  # invalid JSON, well under the body limit
    json_type = {"content-type": "application/json"}
    async with stack.api() as anon:
        for route in ("connect", "execute"):
            url = f"/v1/{app_id}/integrations/{route}"
            r = await anon.post(url, content=body, headers={**bearer(forged), **json_type})
            assert r.status_code == 401, (route, r.text)  # not 400: the body was not parsed
            assert r.json()["error"]["code"] == "INVALID_TOKEN"
            r = await anon.post(url, content=body, headers=json_type)
            assert r.status_code == 401 and r.json()["error"]["code"] == "MISSING_API_KEY"
            good = bearer(user_jwt(secret, app_id, "u1"))
            r = await anon.post(url, content=body, headers={**good, **json_type})
            assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_JSON"
    _stranger, stranger_key = await new_user(stack)
    async with stack.api(stranger_key) as api:  # another owner's key: 404 before the body
        r = await api.post(f"/v1/{app_id}/integrations/connect", content=body, headers=json_type)
    assert r.status_code == 404 and r.json()["error"]["code"] == "APP_NOT_FOUND"
