"""App integrations on embedded defaults: no vendor OAuth client, so the sandbox connects.

The stack is the plain one (``tests.conftest.stack``): no vendor setting at all, vendor
base URLs left at the real vendors — a request that escaped the sandbox would fail.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from activities.secrets import SecretStore
from store import connections
from tests.conftest import Stack, new_user
from tests.integrations.conftest import REDIRECT, bearer, new_app, user_jwt
from tests.integrations.test_oauth_flow import consent_url, local, open_start, query_of


def with_query(url: str, **params: str) -> str:
    return url + "".join(f"&{k}={v}" for k, v in params.items())


async def consent(
    stack: Stack, auth_url: str, *, browser: httpx.AsyncClient | None = None, **extra: str
) -> httpx.Response:
    """The end user's browser: connect's authUrl (Taskyard's start URL, which binds the
    state to this browser), the sandbox consent page, then the callback it redirects to."""
    if browser is None:
        async with httpx.AsyncClient() as fresh:
            return await consent(stack, auth_url, browser=fresh, **extra)
    page_url = await open_start(browser, stack, auth_url)
    page = await browser.get(with_query(local(stack, page_url), **extra))
    assert page.status_code == 302, page.text
    callback = page.headers["location"]
    assert callback.startswith(f"{stack.settings.api_base_url}/v1/")
    return await browser.get(local(stack, callback))


async def connect(stack: Stack, app_id: str, token: str, toolkit: str) -> str:
    async with stack.api() as anon:
        r = await anon.post(
            f"/v1/{app_id}/integrations/connect",
            headers=bearer(token),
            json={"toolkit": toolkit, "redirectUrl": REDIRECT},
        )
    assert r.status_code == 200, r.text
    assert r.json()["sandbox"] is True
    back = await consent(stack, r.json()["authUrl"])
    assert back.status_code == 302, back.text
    assert query_of(back.headers["location"])["status"] == "ACTIVE"
    return str(r.json()["connectionRequestId"])


async def execute(stack: Stack, app_id: str, token: str, tool: str, **params: Any) -> Any:
    async with stack.api() as anon:
        r = await anon.post(
            f"/v1/{app_id}/integrations/execute",
            headers=bearer(token),
            json={"toolName": tool, "params": params},
        )
    assert r.status_code == 200, r.text
    assert r.json()["successful"] is True and r.json()["sandbox"] is True
    return r.json()["data"]


async def test_the_documented_gmail_flow_runs_on_embedded_defaults(stack: Stack) -> None:
    assert stack.settings.oauth_clients() == {}
    _owner, key = await new_user(stack)
    app_id, _secret = await new_app(stack, key)
    async with stack.api(key) as api:
        r = await api.get(f"/v1/{app_id}/integrations/available", params={"search": "gmail"})
        [gmail] = [t for t in r.json()["integrations"] if t["toolkit"] == "gmail"]
        assert (gmail["installable"], gmail["sandbox"], gmail["requires"]) == (
            True,
            True,
            "operator OAuth client",
        )
        r = await api.post(
            f"/v1/{app_id}/integrations/configure",
            json={"toolkit": "gmail", "displayName": "Gmail", "scopes": []},
        )
        assert r.status_code == 201, r.text
        assert r.json()["integration"]["sandbox"] is True
        r = await api.post(
            f"/v1/{app_id}/integrations/connect",
            json={"toolkit": "gmail", "redirectUrl": REDIRECT, "userId": "uuid"},
        )
        assert r.status_code == 200, r.text
        started = r.json()
    start = f"{stack.settings.api_base_url}/v1/{app_id}/integrations/start?"
    authorize = f"{stack.settings.api_base_url}/v1/{app_id}/integrations/sandbox/authorize"
    assert started["authUrl"].startswith(start)
    assert (started["status"], started["sandbox"]) == ("INITIATED", True)
    connection_id = started["connectionRequestId"]
    async with httpx.AsyncClient() as browser:
        page = await open_start(browser, stack, started["authUrl"])
        assert page.startswith(authorize + "?")
        params = query_of(page)
        assert params["client_id"] == "taskyard-sandbox" and "gmail.send" in params["scope"]
        # the same browser may open the start URL again (a reload)
        back = await consent(stack, started["authUrl"], browser=browser)
    assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT + "?")
    assert query_of(back.headers["location"]) == {
        "connectionId": connection_id,
        "status": "ACTIVE",
        "sandbox": "true",
    }
    row = await connections.get(stack.deps.db, connection_id)
    assert row is not None and row.ciphertext is not None and row.provider == "sandbox"
    tokens = connections.open_tokens(stack.deps.vault, row)
    assert tokens["access_token"].startswith("ya29.sandbox-") and tokens["refresh_token"]
    assert tokens["access_token"] not in row.ciphertext  # stored encrypted like a vendor's

    async with stack.api(key) as api:
        listed = await api.get(f"/v1/{app_id}/integrations/connections", params={"userId": "uuid"})
        [conn] = listed.json()["connections"]
        assert (conn["id"], conn["status"], conn["sandbox"]) == (connection_id, "ACTIVE", True)
        tools = await api.get(f"/v1/{app_id}/integrations/tools", params={"userId": "uuid"})
        assert "GMAIL_SEND_EMAIL" in [t["name"] for t in tools.json()["tools"]]
        r = await api.post(
            f"/v1/{app_id}/integrations/execute",
            json={
                "toolName": "GMAIL_SEND_EMAIL",
                "params": {"to": "x@y.com", "subject": "Hi", "body": "Hello"},
                "userId": "uuid",
            },
        )
        assert r.status_code == 200, r.text
        assert (r.json()["successful"], r.json()["sandbox"]) == (True, True)
        execution_id = r.json()["executionId"]
        outbox = (await api.get(f"/v1/{app_id}/integrations/sandbox/outbox")).json()
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "tool_execution"})).json()
    assert outbox["sandbox"] is True
    [sent] = outbox["items"]
    assert (sent["kind"], sent["toolkit"], sent["userId"]) == ("gmail.message", "gmail", "uuid")
    assert (sent["connectionId"], sent["executionId"]) == (connection_id, execution_id)
    assert sent["remoteId"] == r.json()["data"]["id"]
    data = sent["data"]
    assert (data["to"], data["subject"], data["text"].strip()) == (["x@y.com"], "Hi", "Hello")
    assert "raw" not in data
    job = next(j for j in jobs["data"]["jobs"] if j["id"] == execution_id)
    assert job["metadata"]["provider"] == "sandbox" and job["metadata"]["appId"] == app_id


async def test_slack_calendar_and_discord_connect_the_same_way(stack: Stack) -> None:
    _owner, key = await new_user(stack)
    app_id, secret = await new_app(stack, key, toolkits=("slack", "google-calendar", "discord"))
    alice, bob = user_jwt(secret, app_id, "alice"), user_jwt(secret, app_id, "bob")
    for toolkit in ("slack", "google-calendar", "discord"):
        await connect(stack, app_id, alice, toolkit)
    async with stack.api(key) as api:
        r = await api.post(
            f"/v1/{app_id}/integrations/connect",
            json={"toolkit": "slack", "redirectUrl": REDIRECT, "userId": "carol"},
        )
    slack_scope = query_of(await consent_url(stack, r.json()["authUrl"]))["scope"]
    assert slack_scope.split(",")[0] == "chat:write"  # Slack's comma-separated scopes

    posted = await execute(
        stack, app_id, alice, "SLACK_SEND_MESSAGE", channel="#general", text="hello"
    )
    event = await execute(
        stack,
        app_id,
        alice,
        "GOOGLE_CALENDAR_CREATE_EVENT",
        summary="Kick-off",
        start="2026-06-01T09:00:00Z",
        end="2026-06-01T10:00:00Z",
        attendees="bob@example.test",
    )
    listed = await execute(stack, app_id, alice, "GOOGLE_CALENDAR_LIST_EVENTS")
    assert [e["id"] for e in listed["events"]] == [event["id"]]
    busy = await execute(
        stack,
        app_id,
        alice,
        "GOOGLE_CALENDAR_FREE_BUSY",
        time_min="2026-06-01T00:00:00Z",
        time_max="2026-06-02T00:00:00Z",
    )
    assert busy["calendars"]["primary"]["busy"] == [
        {"start": "2026-06-01T09:00:00Z", "end": "2026-06-01T10:00:00Z"}
    ]
    await execute(
        stack,
        app_id,
        alice,
        "DISCORD_SEND_MESSAGE",
        channel_id="123456789012345678",
        content="hi there",
    )

    async with stack.api(key) as api:
        outbox = await api.get(f"/v1/{app_id}/integrations/sandbox/outbox")
        kinds = [(i["toolkit"], i["kind"]) for i in outbox.json()["items"]]
        assert kinds == [
            ("discord", "discord.message"),
            ("google-calendar", "calendar.event"),
            ("slack", "slack.message"),
        ]
        only_slack = await api.get(
            f"/v1/{app_id}/integrations/sandbox/outbox", params={"toolkit": "slack"}
        )
        [message] = only_slack.json()["items"]
        assert message["data"]["text"] == "hello" and message["remoteId"].endswith(posted["ts"])
    async with stack.api() as anon:  # an end user sees only their own sandbox
        mine = await anon.get(f"/v1/{app_id}/integrations/sandbox/outbox", headers=bearer(alice))
        assert len(mine.json()["items"]) == 3
        theirs = await anon.get(f"/v1/{app_id}/integrations/sandbox/outbox", headers=bearer(bob))
        assert theirs.json()["items"] == []


async def test_sandbox_consent_refusals_and_state_checks(stack: Stack) -> None:
    _owner, key = await new_user(stack)
    _stranger, stranger_key = await new_user(stack)
    app_id, secret = await new_app(stack, key, toolkits=("gmail", "stripe"))
    token = user_jwt(secret, app_id, "dan")

    async def start() -> dict[str, Any]:
        async with stack.api() as anon:
            r = await anon.post(
                f"/v1/{app_id}/integrations/connect",
                headers=bearer(token),
                json={"toolkit": "gmail", "redirectUrl": REDIRECT},
            )
        assert r.status_code == 200, r.text
        return dict(r.json())

    refused = await start()
    back = await consent(stack, refused["authUrl"], decision="deny")
    assert query_of(back.headers["location"])["status"] == "FAILED"
    assert "access_denied" in query_of(back.headers["location"])["error"]

    started = await start()
    async with httpx.AsyncClient() as browser:
        url = local(stack, await open_start(browser, stack, started["authUrl"]))
        wrong_client = await browser.get(url.replace("taskyard-sandbox", "someone-else"))
        assert wrong_client.status_code == 400
        assert wrong_client.json()["error"]["code"] == "INVALID_REQUEST"
        path = urlsplit(url).path
        forged = await browser.get(
            local(stack, f"{stack.settings.api_base_url}/v1/{app_id}/integrations/callback"),
            params={"state": query_of(url)["state"], "code": "sbx_forged"},
        )
        assert query_of(forged.headers["location"])["status"] == "FAILED"  # the code is checked
        reused = await browser.get(url)
        assert reused.status_code == 400
        assert reused.json()["error"]["code"] == "INTEGRATIONS_INVALID_STATE"
        unknown = await browser.get(
            f"{stack.base_url}{path}", params={**query_of(url), "state": "x"}
        )
        assert unknown.json()["error"]["code"] == "INTEGRATIONS_INVALID_STATE"

    async with stack.api() as anon:  # an API-key toolkit still connects with credentials
        r = await anon.post(
            f"/v1/{app_id}/integrations/connect",
            headers=bearer(token),
            json={"toolkit": "stripe", "redirectUrl": REDIRECT},
        )
        assert r.status_code == 400
        error = r.json()["error"]
        assert error["code"] == "CREDENTIALS_REQUIRED" and "credentials" in error["message"]
        assert '"secret_key"' in error["remediation"]
        r = await anon.post(
            f"/v1/{app_id}/integrations/connect",
            headers=bearer(token),
            json={"toolkit": "stripe", "credentials": {"secret_key": "sk_test_123"}},
        )
        assert (r.json()["status"], r.json()["sandbox"]) == ("ACTIVE", False)
    async with stack.api(stranger_key) as api:
        r = await api.get(f"/v1/{app_id}/integrations/sandbox/outbox")
        assert r.status_code == 404


async def test_connections_open_with_the_vendor_client_or_the_sandboxs(stack: Stack) -> None:
    owner, key = await new_user(stack)
    app_id, secret = await new_app(stack, key, toolkits=("discord",))
    db, vault = stack.deps.db, stack.deps.vault
    vendor = await connections.create_active(
        db,
        vault,
        app_id=app_id,
        end_user_id="gus",
        toolkit="discord",
        data={"access_token": "discord-access", "guild_id": "1"},
    )
    sandboxed = await connect(stack, app_id, user_jwt(secret, app_id, "gus"), "discord")
    platform = SecretStore(db, vault, {"discord": ("cid", "csecret")}, {"discord": "platform-bot"})

    opened = await platform.open_credential(owner, vendor.id)
    assert (opened["bot_token"], opened["client_id"], opened["guild_id"]) == (
        "platform-bot",
        "cid",
        "1",
    )
    assert await platform.sandbox_connection(owner, vendor.id) is None
    opened = await platform.open_credential(owner, sandboxed)
    assert opened["client_id"] == "taskyard-sandbox" and opened["bot_token"] != "platform-bot"
    row = await platform.sandbox_connection(owner, sandboxed)
    assert row is not None and row.id == sandboxed
