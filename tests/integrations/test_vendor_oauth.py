"""With the operator's vendor clients configured, Slack (OAuth v2) and Google Calendar
connect through the real flow: the vendor's consent page and token endpoint (local fakes)."""

from __future__ import annotations

from typing import Any

import httpx

from store import connections
from tests.conftest import Stack, new_user
from tests.fakes.slack import OAUTH_CLIENT_ID as SLACK_CLIENT_ID
from tests.integrations.conftest import Fakes, bearer, new_app, user_jwt
from tests.integrations.test_oauth_flow import consent, open_start, query_of, start_connect


async def connect(stack: Stack, app_id: str, token: str, toolkit: str) -> tuple[str, str]:
    r = await start_connect(stack, app_id, token, toolkit=toolkit)
    assert r.status_code == 200, r.text
    assert r.json()["sandbox"] is False
    async with httpx.AsyncClient() as browser:
        page = await open_start(browser, stack, r.json()["authUrl"])
        back = await consent(stack, r.json()["authUrl"], browser=browser)
    assert back.status_code == 302, back.text
    assert query_of(back.headers["location"]) == {
        "connectionId": r.json()["connectionRequestId"],
        "status": "ACTIVE",
    }
    return r.json()["connectionRequestId"], page


async def execute(stack: Stack, app_id: str, token: str, tool: str, **params: Any) -> Any:
    async with stack.api() as anon:
        r = await anon.post(
            f"/v1/{app_id}/integrations/execute",
            headers=bearer(token),
            json={"toolName": tool, "params": params},
        )
    assert r.status_code == 200, r.text
    assert r.json()["sandbox"] is False
    return r.json()


async def test_slack_installs_through_oauth_v2(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("slack",))
    token = user_jwt(secret, app_id, "erin")
    connection_id, auth_url = await connect(istack, app_id, token, "slack")
    params = query_of(auth_url)
    assert auth_url.startswith(fakes.slack.authorize_url + "?")
    assert params["client_id"] == SLACK_CLIENT_ID
    assert params["scope"] == "chat:write,chat:write.public,reactions:write,channels:read"
    assert (
        params["redirect_uri"]
        == f"{istack.settings.api_base_url}/v1/{app_id}/integrations/callback"
    )

    row = await connections.get(istack.deps.db, connection_id)
    assert row is not None and row.provider == "vendor"
    assert row.scopes == ["chat:write", "chat:write.public", "reactions:write", "channels:read"]
    stored = connections.open_tokens(istack.deps.vault, row)
    assert stored["bot_token"] in fakes.slack.tokens and "access_token" not in stored
    assert (stored["team_id"], stored["app_id"]) == ("T0TEST", "A0TASKYARD")

    done = await execute(
        istack, app_id, token, "SLACK_SEND_MESSAGE", channel="C0GENERAL", text="hi"
    )
    assert fakes.slack.messages[("C0GENERAL", done["data"]["ts"])]["text"] == "hi"
    async with istack.api(key) as api:
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
        outbox = (await api.get(f"/v1/{app_id}/integrations/sandbox/outbox")).json()
    job = next(j for j in jobs["data"]["jobs"] if j["id"] == done["executionId"])
    assert job["metadata"]["provider"] == "vendor"
    assert outbox == {"sandbox": True, "items": []}  # a vendor connection records nothing


async def test_google_calendar_shares_the_google_client(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("google-calendar",))
    token = user_jwt(secret, app_id, "fay")
    _connection_id, auth_url = await connect(istack, app_id, token, "google-calendar")
    params = query_of(auth_url)
    assert auth_url.startswith(fakes.oauth.auth_url + "?") and params["access_type"] == "offline"
    assert "calendar.events" in params["scope"] and "gmail" not in params["scope"]

    made = await execute(
        istack,
        app_id,
        token,
        "GOOGLE_CALENDAR_CREATE_EVENT",
        summary="Planning",
        start="2026-07-01T15:00:00Z",
        end="2026-07-01T16:00:00Z",
    )
    event_id = made["data"]["id"]
    assert fakes.google.events[event_id]["summary"] == "Planning"
    listed = await execute(
        istack, app_id, token, "GOOGLE_CALENDAR_LIST_EVENTS", time_min="2026-07-01T00:00:00Z"
    )
    assert event_id in [e["id"] for e in listed["data"]["events"]]
    await execute(istack, app_id, token, "GOOGLE_CALENDAR_DELETE_EVENT", event_id=event_id)
    assert fakes.google.events[event_id]["status"] == "cancelled"
