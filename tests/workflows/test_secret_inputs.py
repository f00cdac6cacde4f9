"""Secrets stay out of workflow history, the database and the logs on every path: secret
inputs (declared, named like credentials, or read by a credential-shaped part of a step),
literal credentials beside templates in ``auth``, credentials in URLs, headers and
bodies, and Discord webhook URLs."""

from __future__ import annotations

import base64
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import make_settings, new_user, run_stack
from tests.integrations.test_canary import database_text, histories_since
from tests.workflows.helpers import create_workflow, execute, finished, http_step
from tests.workflows.server import StepTarget


def canary(label: str) -> str:
    return f"CANARY{label}{secrets.token_hex(6)}"


async def test_secrets_never_reach_history_database_or_logs(
    temporal_env: Any,
    database_url: str,
    tmp_path: Any,
    steps_target: StepTarget,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # As worker.py runs: httpx would log every request's full URL (query string included).
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.WARNING, logger=name)
    t = steps_target
    c = {
        k: canary(k)
        for k in (
            "token",
            "partner",
            "pin",
            "key",
            "access",
            "client",
            "query",
            "userinfo",
            "discord",
            "body",
        )
    }
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path,
        discord_base_url="http://127.0.0.1:9/api",
        task_queue_prefix="si" + uuid.uuid4().hex[:8],
    )
    started = datetime.now(UTC)
    async with run_stack(temporal_env, settings) as stack:
        _user, key = await new_user(stack)
        async with stack.api(key) as api:
            wf = await create_workflow(
                api,
                [
                    http_step(
                        "a",
                        t.url("/echo/a") + f"?api_key={c['query']}&quiet=1",
                        config={
                            "method": "POST",
                            "headers": {
                                "Authorization": "Bearer {{input.token}}",
                                "X-Auth-Key": "{{input.partner}}",
                            },
                            "auth": {"type": "api_key", "header": "{{input.hdr}}", "key": c["key"]},
                            "body": {
                                "access_token": c["access"],
                                "client_secret": c["client"],
                                "pin": "{{input.pin}}",
                                "note": "hello {{input.city}}",
                            },
                        },
                    )
                ],
                secretInputs=["pin"],
            )
            steps = (await api.get(f"/api/v1/workflows/{wf['id']}")).json()["definition"]["steps"]
            shown = steps[0]["config"]
            assert shown["auth"] == {
                "type": "api_key",
                "header": "{{input.hdr}}",
                "key": "********",
            }
            assert shown["body"]["access_token"] == "********" and shown["url"] == "********"
            run_input = {
                "token": c["token"],
                "partner": c["partner"],
                "hdr": "X-Partner-Key",
                "pin": c["pin"],
                "city": "Paris",
            }
            body = await finished(api, await execute(api, wf["id"], run_input))
            assert body["status"] == "completed", body
            assert body["input"] == {
                "token": "********",
                "partner": "********",
                "hdr": "********",
                "pin": "********",
                "city": "Paris",
            }
            # Literal credentials in tool executions: URL userinfo, body keys, Discord URLs.
            host = t.base_url.split("://", 1)[1]
            for params in (
                {"url": f"http://ann:{c['userinfo']}@{host}/echo/u?quiet=1", "method": "GET"},
                {
                    "url": t.url("/echo/b?quiet=1"),
                    "method": "POST",
                    "body": {"refresh_token": c["body"]},
                },
            ):
                r = await api.post(
                    "/api/v1/tools/execute", json={"toolName": "HTTP_REQUEST", "params": params}
                )
                assert r.status_code == 200, r.text
            r = await api.post(
                "/api/v1/tools/execute",
                json={
                    "toolName": "DISCORD_SEND_WEBHOOK",
                    "params": {
                        "webhook_url": "https://discord.com/api/webhooks/"
                        f"123456789012345678/{c['discord']}",
                        "content": "hi",
                    },
                },
            )
            assert r.status_code in (200, 422, 502), r.text
        seen = t.headers["a"][0]
        assert seen["authorization"] == f"Bearer {c['token']}"
        assert seen["x-auth-key"] == c["partner"] and seen["x-partner-key"] == c["key"]
        assert t.bodies["a"][0] == {
            "note": "hello Paris",
            "pin": c["pin"],
            "access_token": c["access"],
            "client_secret": c["client"],
        }
        basic = base64.b64encode(f"ann:{c['userinfo']}".encode()).decode()
        assert t.headers["u"][0]["authorization"] == f"Basic {basic}"
        assert t.bodies["b"][0] == {"refresh_token": c["body"]}
        _count, history = await histories_since(stack, started)
        stored = await database_text(stack.deps.db)
    logs = caplog.text
    for name, value in c.items():
        assert value.encode() not in history, f"{name} is in a workflow history"
        assert value.encode() not in stored, f"{name} is in the database"
        assert value not in logs, f"{name} is in the logs"


@pytest.mark.parametrize(
    ("params", "sealed"),
    [
        ({"url": "https://u:p@h.io/x"}, ["url"]),
        ({"endpoint": "https://h.io/x?api_key=k&page=2"}, ["endpoint"]),
        ({"webhook_url": "https://discord.com/api/webhooks/1/t"}, ["webhook_url"]),
        ({"target": "https://discordapp.com/api/v9/webhooks/1/t"}, ["target"]),
        ({"headers": {"X-Auth-Key": "k", "Accept": "json"}}, ["headers"]),
        ({"body": {"access_token": "a", "client_secret": "s", "n": 1}}, ["body"]),
        ({"url": "https://h.io/x?page=2", "body": {"n": 1}}, []),
    ],
)
def test_what_is_sealed(params: dict[str, Any], sealed: list[str]) -> None:
    from engine.services.sealing import split_secrets

    public, secret = split_secrets(params)
    assert sorted(secret) == sealed
    for key in sealed:
        shown = public.get(key)
        if isinstance(shown, dict):
            assert not set(shown) & set(secret[key])
        else:
            assert shown is None or "********" in shown
    merged = {
        **public,
        **{
            k: ({**public.get(k, {}), **v} if isinstance(v, dict) else v) for k, v in secret.items()
        },
    }
    assert merged == params
