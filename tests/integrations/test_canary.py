"""Canary: known secret strings go in through every path, then no plaintext copy exists
anywhere we keep things — database, Temporal histories, logs, API responses."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from store import connections
from store.db import Database
from tests.conftest import Stack, new_user
from tests.integrations.conftest import Fakes, bearer, new_app, user_jwt
from tests.integrations.test_oauth_flow import connect_gmail
from tests.plain import plain


def canary(label: str) -> str:
    return f"CANARY{label}{secrets.token_hex(8)}"


async def database_text(db: Database) -> bytes:
    """Everything stored: the SQLite files as bytes, or every PostgreSQL row as text."""
    if db.url.startswith("sqlite"):
        path = Path(db.url.split(":///", 1)[1])
        files = sorted(str(p) for p in path.parent.glob(path.name + "*"))
        # Read by another process: closing a descriptor of a live SQLite file in this
        # process would drop every POSIX lock SQLite holds on it here, and another
        # process could then reset the WAL under this process's open connections.
        reader = await asyncio.create_subprocess_exec("cat", *files, stdout=asyncio.subprocess.PIPE)
        content, _ = await reader.communicate()
        assert reader.returncode == 0
        return content
    chunks: list[bytes] = []
    async with db.engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public'"
                    )
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            rows = await conn.execute(sa.text(f'SELECT t::text FROM "{table}" t'))
            chunks += [str(r).encode() for r in rows.scalars()]
    return b"\n".join(chunks)


async def histories_since(stack: Stack, started: datetime) -> tuple[int, bytes]:
    """Every workflow history since ``started``, serialized with its payloads decrypted (so a
    secret would show even where payload encryption hides it from the server)."""
    query = f"StartTime >= '{started.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
    blobs: list[bytes] = []
    count = 0
    async for execution in stack.client.list_workflows(query):
        history = await stack.client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).fetch_history()
        history = await plain(history, stack.client)
        blobs += [event.SerializeToString() for event in history.events]
        count += 1
    return count, b"".join(blobs)


async def test_no_secret_is_ever_stored_or_logged_in_plaintext(
    istack: Stack,
    fakes: Fakes,
    target: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    started = datetime.now(UTC)
    c = {
        name: canary(name)
        for name in ("slackbot", "enduserbot", "revoked", "bearer", "httpcred", "smtp", "stripe")
    }
    for name in ("slackbot", "enduserbot", "revoked"):
        c[name] = "xoxb-" + c[name]
    fakes.slack.tokens |= {c["slackbot"], c["enduserbot"]}
    responses: list[str] = []

    def seen(r: httpx.Response) -> httpx.Response:
        responses.append(r.text)
        return r

    _owner, key = await new_user(istack)
    async with istack.api(key) as api:
        slack = seen(
            await api.post(
                "/api/v1/credentials",
                json={"name": "bot", "provider": "slack", "data": {"bot_token": c["slackbot"]}},
            )
        ).json()
        http = seen(
            await api.post(
                "/api/v1/credentials",
                json={
                    "name": "h",
                    "provider": "http",
                    "data": {"type": "bearer", "token": c["httpcred"]},
                },
            )
        ).json()
        for provider, data in (
            ("smtp", {"host": "smtp.example.com", "port": 587, "user": "u", "password": c["smtp"]}),
            ("stripe", {"secret_key": c["stripe"]}),
        ):
            seen(
                await api.post(
                    "/api/v1/credentials",
                    json={"name": provider, "provider": provider, "data": data},
                )
            )
        seen(await api.get("/api/v1/credentials"))
        revoked = seen(
            await api.post(
                "/api/v1/credentials",
                json={"name": "old", "provider": "slack", "data": {"bot_token": c["revoked"]}},
            )
        ).json()
        r = seen(await api.post(f"/api/v1/credentials/{revoked['id']}/test"))
        assert r.json()["errorType"] == "AuthError"  # a failing activity: the worker logs it
        assert seen(await api.post(f"/api/v1/credentials/{slack['id']}/test")).json()["success"]
        send = {"channel": "C0GENERAL", "text": "canary run"}
        r = seen(
            await api.post(
                "/api/v1/tools/execute",
                json={
                    "toolName": "SLACK_SEND_MESSAGE",
                    "credentialId": slack["id"],
                    "params": send,
                },
            )
        )
        assert r.status_code == 200, r.text
        r = seen(
            await api.post(
                "/api/v1/tools/execute",
                json={
                    "toolName": "HTTP_REQUEST",
                    "credentialId": http["id"],
                    "params": {"url": target.base_url + "/status/204"},
                },
            )
        )
        assert r.status_code == 200, r.text
        r = seen(
            await api.post(
                "/api/v1/tools/execute",
                json={
                    "toolName": "HTTP_REQUEST",
                    "params": {
                        "url": target.base_url + "/status/204",
                        "auth": {"type": "bearer", "token": c["bearer"]},
                    },
                },
            )
        )
        assert r.status_code == 200, r.text
        inst = seen(
            await api.post(
                "/api/v1/connectors",
                json={
                    "name": "s",
                    "type": "slack",
                    "credentialId": slack["id"],
                    "config": {"defaultChannel": "C0GENERAL"},
                },
            )
        ).json()
        r = seen(
            await api.post(
                f"/api/v1/connectors/{inst['id']}/actions/send_message",
                json={"params": {"text": "again"}},
            )
        )
        assert r.status_code == 200, r.text
    sent_headers = [rec.headers.get("authorization", "") for rec in target.requests]
    assert f"Bearer {c['httpcred']}" in sent_headers and f"Bearer {c['bearer']}" in sent_headers

    app_id, app_secret = await new_app(istack, key, toolkits=("slack", "gmail"))
    c["app_secret"] = app_secret
    token = user_jwt(app_secret, app_id, "canary-user")
    async with istack.api() as anon:
        seen(
            await anon.post(
                f"/v1/{app_id}/integrations/connect",
                headers=bearer(token),
                json={"toolkit": "slack", "credentials": {"bot_token": c["enduserbot"]}},
            )
        )
        r = seen(
            await anon.post(
                f"/v1/{app_id}/integrations/execute",
                headers=bearer(token),
                json={"toolName": "SLACK_SEND_MESSAGE", "params": send},
            )
        )
        assert r.status_code == 200, r.text
        issued_before = set(fakes.oauth.access_tokens) | set(fakes.oauth.refresh_tokens)
        codes_before = set(fakes.oauth.codes)
        connection_id = await connect_gmail(istack, app_id, token)
        await connections.merge_tokens(
            istack.deps.db, istack.deps.vault, connection_id, {"expires_at": 1}, None
        )  # force a refresh at use
        r = seen(
            await anon.post(
                f"/v1/{app_id}/integrations/execute",
                headers=bearer(token),
                json={"toolName": "GMAIL_LIST_MESSAGES", "params": {}},
            )
        )
        assert r.status_code == 200, r.text
        seen(await anon.get(f"/v1/{app_id}/integrations/connections", headers=bearer(token)))
    oauth_secrets = (
        (set(fakes.oauth.access_tokens) | set(fakes.oauth.refresh_tokens) | set(fakes.oauth.codes))
        - issued_before
        - codes_before
    )
    assert len(oauth_secrets) >= 4  # code, first access + refresh token, refreshed access token
    everything = {**c, **{f"oauth{i}": s for i, s in enumerate(sorted(oauth_secrets))}}

    stored = await database_text(istack.deps.db)
    count, histories = await histories_since(istack, started)
    assert count >= 8
    logs = caplog.text + "".join(capfd.readouterr())
    # The search does see plaintext where plaintext is expected (so a leak would show).
    assert b"canary run" in histories and b"canary-user" in stored
    assert "invalid_auth" in logs  # the failed activity was logged, without its token
    leaks = [
        (name, where)
        for name, value in everything.items()
        for where, blob in (
            ("database", stored),
            ("histories", histories),
            ("logs", logs.encode()),
            ("responses", "".join(responses).encode()),
        )
        if value.encode() in blob
    ]
    assert leaks == []
