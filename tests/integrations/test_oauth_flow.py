"""End-user OAuth: connect → provider consent → callback → execute, against a local provider."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import update
from temporalio.client import WorkflowExecutionStatus

from store import connections
from store.db import utcnow
from tests.conftest import Stack, new_user, wait_for
from tests.integrations.conftest import REDIRECT, Fakes, bearer, new_app, user_jwt
from tests.integrations.fake_oauth import CLIENT_ID


async def start_connect(stack: Stack, app_id: str, token: str, **body: Any) -> httpx.Response:
    async with stack.api() as anon:
        return await anon.post(
            f"/v1/{app_id}/integrations/connect",
            headers=bearer(token),
            json={"toolkit": "gmail", "redirectUrl": REDIRECT, **body},
        )


def local(stack: Stack, url: str) -> str:
    """The stack serves on a loopback port, not on the configured public base URL."""
    return url.replace(stack.settings.api_base_url, stack.base_url)


async def open_start(browser: httpx.AsyncClient, stack: Stack, auth_url: str) -> str:
    """Open connect's authUrl (Taskyard's start URL) in ``browser``, which keeps the
    cookie binding the state to it; returns the consent page it redirects to."""
    assert auth_url.startswith(f"{stack.settings.api_base_url}/v1/"), auth_url
    r = await browser.get(local(stack, auth_url))
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


async def consent(
    stack: Stack, auth_url: str, *, browser: httpx.AsyncClient | None = None
) -> httpx.Response:
    """The end user's browser: our start URL, the provider's consent page, our callback."""
    if browser is None:
        async with httpx.AsyncClient() as fresh:
            return await consent(stack, auth_url, browser=fresh)
    at_provider = await browser.get(await open_start(browser, stack, auth_url))
    assert at_provider.status_code == 302, at_provider.text
    return await browser.get(local(stack, at_provider.headers["location"]))


async def consent_url(stack: Stack, auth_url: str) -> str:
    """Where the start URL sends a browser (the vendor's or the sandbox's consent page)."""
    async with httpx.AsyncClient() as browser:
        return await open_start(browser, stack, auth_url)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def connect_gmail(stack: Stack, app_id: str, token: str) -> str:
    r = await start_connect(stack, app_id, token)
    assert r.status_code == 200, r.text
    back = await consent(stack, r.json()["authUrl"])
    assert back.status_code == 302, back.text
    assert query_of(back.headers["location"])["status"] == "ACTIVE"
    return r.json()["connectionRequestId"]


async def test_connect_callback_execute_gmail(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("gmail",))
    token = user_jwt(secret, app_id, "end-user-42")
    r = await start_connect(istack, app_id, token)
    assert r.status_code == 200, r.text
    request_id = r.json()["connectionRequestId"]
    assert request_id.startswith("ca_")
    auth_url = r.json()["authUrl"]
    assert auth_url.startswith(f"{istack.settings.api_base_url}/v1/{app_id}/integrations/start?")
    browser = httpx.AsyncClient()
    params = query_of(await open_start(browser, istack, auth_url))
    callback_url = f"{istack.settings.api_base_url}/v1/{app_id}/integrations/callback"
    assert params["client_id"] == CLIENT_ID and params["redirect_uri"] == callback_url
    assert params["access_type"] == "offline" and "gmail.send" in params["scope"]
    async with istack.api() as anon:
        listed = await anon.get(f"/v1/{app_id}/integrations/connections", headers=bearer(token))
    assert [(c["id"], c["status"]) for c in listed.json()["connections"]] == [
        (request_id, "INITIATED")
    ]

    exchanges = len(fakes.oauth.token_calls("authorization_code"))
    back = await consent(istack, auth_url, browser=browser)
    await browser.aclose()
    assert back.status_code == 302
    assert back.headers["location"].startswith(REDIRECT + "?")
    assert query_of(back.headers["location"]) == {"connectionId": request_id, "status": "ACTIVE"}
    [exchange] = fakes.oauth.token_calls("authorization_code")[exchanges:]
    assert exchange.form["redirect_uri"] == callback_url

    async with istack.api() as anon:
        listed = await anon.get(f"/v1/{app_id}/integrations/connections", headers=bearer(token))
        [conn] = listed.json()["connections"]
        assert (conn["status"], conn["userId"], conn["toolkit"]) == (
            "ACTIVE",
            "end-user-42",
            "gmail",
        )
        assert conn["expiresAt"] is not None
        r = await anon.post(
            f"/v1/{app_id}/integrations/execute",
            headers=bearer(token),
            json={
                "toolName": "GMAIL_SEND_EMAIL",
                "params": {"to": ["x@y.com"], "subject": "Hi", "body": "Hello"},
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["successful"] is True
    sent = fakes.google.messages[r.json()["data"]["id"]]
    assert b"Subject: Hi" in sent["raw"]

    async with istack.api(key) as api:  # the job is the app owner's, as tool_execution
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
    job = next(j for j in jobs["data"]["jobs"] if j["id"] == r.json()["executionId"])
    assert job["metadata"]["appId"] == app_id and job["metadata"]["endUserId"] == "end-user-42"

    async with httpx.AsyncClient() as browser:  # the state works once
        again = await browser.get(
            f"{istack.base_url}/v1/{app_id}/integrations/callback",
            params={"state": params["state"], "code": "4/0Ab-replayed"},
        )
    assert again.status_code == 400 and "location" not in again.headers
    assert again.json()["error"]["code"] == "INTEGRATIONS_INVALID_STATE"


async def test_expired_access_token_is_refreshed_and_stored(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("gmail",))
    token = user_jwt(secret, app_id, "u-refresh")
    connection_id = await connect_gmail(istack, app_id, token)
    db, vault = istack.deps.db, istack.deps.vault
    await connections.merge_tokens(db, vault, connection_id, {"expires_at": 1}, None)
    row = await connections.get(db, connection_id)
    assert row is not None
    before = connections.open_tokens(vault, row)
    refreshes = len(fakes.oauth.token_calls("refresh_token"))
    async with istack.api() as anon:
        r = await anon.post(
            f"/v1/{app_id}/integrations/execute",
            headers=bearer(token),
            json={"toolName": "GMAIL_LIST_MESSAGES", "params": {}},
        )
    assert r.status_code == 200, r.text
    assert "refreshed_credentials" not in r.json()["data"]
    assert len(fakes.oauth.token_calls("refresh_token")) == refreshes + 1
    row = await connections.get(db, connection_id)
    assert row is not None
    after = connections.open_tokens(vault, row)
    assert after["access_token"] != before["access_token"] and after["expires_at"] > 1
    assert after["refresh_token"] == before["refresh_token"] and "client_secret" not in after


async def test_refused_consent_and_bad_requests(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("gmail",))
    other_app, _ = await new_app(istack, key, toolkits=("gmail",))
    token = user_jwt(secret, app_id, "u-deny")
    fakes.oauth.deny_next = True
    r = await start_connect(istack, app_id, token)
    back = await consent(istack, r.json()["authUrl"])
    assert query_of(back.headers["location"])["status"] == "FAILED"
    async with istack.api(key) as api:
        listed = await api.get(
            f"/v1/{app_id}/integrations/connections", params={"userId": "u-deny"}
        )
    [conn] = listed.json()["connections"]
    assert conn["status"] == "FAILED" and "access_denied" in conn["statusReason"]

    for url in ("https://evil.example.com/settings/integrations", REDIRECT + "/deeper"):
        r = await start_connect(istack, app_id, token, redirectUrl=url)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INTEGRATIONS_REDIRECT_NOT_ALLOWED"
    r = await start_connect(istack, app_id, token, redirectUrl=REDIRECT + "?tab=mail")
    assert r.status_code == 200
    state = query_of(r.json()["authUrl"])["state"]
    async with httpx.AsyncClient(base_url=istack.base_url) as browser:
        await open_start(browser, istack, r.json()["authUrl"])
        wrong_app = await browser.get(
            f"/v1/{other_app}/integrations/callback", params={"state": state, "code": "c"}
        )
        assert wrong_app.status_code == 400
        async with istack.deps.db.engine.begin() as conn_:
            await conn_.execute(
                update(connections.OAuthRequest)
                .where(connections.OAuthRequest.connection_id == r.json()["connectionRequestId"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        expired = await browser.get(
            f"/v1/{app_id}/integrations/callback", params={"state": state, "code": "c"}
        )
        assert expired.status_code == 400 and "expired" in expired.json()["error"]["message"]
        missing = await browser.get(f"/v1/{app_id}/integrations/callback")
        assert missing.json()["error"]["code"] == "INTEGRATIONS_INVALID_STATE"
    r = await start_connect(istack, app_id, token, toolkit="stripe")
    assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_ENABLED"


async def test_disconnect_stops_the_connection_workflow(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("gmail",))
    token = user_jwt(secret, app_id, "u-bye")
    connection_id = await connect_gmail(istack, app_id, token)
    handle = istack.client.get_workflow_handle(connection_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    async with istack.api() as anon:
        r = await anon.delete(
            f"/v1/{app_id}/integrations/connections/{connection_id}", headers=bearer(token)
        )
        assert r.json() == {"success": True, "id": connection_id}
        listed = await anon.get(f"/v1/{app_id}/integrations/connections", headers=bearer(token))
        assert listed.json() == {"connections": []}
        r = await anon.post(
            f"/v1/{app_id}/integrations/execute",
            headers=bearer(token),
            json={"toolName": "GMAIL_LIST_MESSAGES", "params": {}},
        )
        assert r.status_code == 422

    async def cancelled() -> bool:
        return (await handle.describe()).status == WorkflowExecutionStatus.CANCELED

    await wait_for(cancelled)
