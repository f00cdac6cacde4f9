"""Recorded ConnectionWorkflow and CredentialTestWorkflow histories replay against today's code.

Re-record with ``TASKYARD_RECORD_HISTORIES=1 pytest tests/integrations`` (the
time-skipping tests save the refresh/expiry and timeout histories; this module
saves the authorized-then-disconnected one and the credential tests).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from engine.workflows.connections import ConnectionWorkflow
from engine.workflows.credential_check import CredentialTestWorkflow
from tests.conftest import Stack, new_user, session_converter, wait_for
from tests.fakes.slack import VALID_TOKEN
from tests.integrations.conftest import Fakes, bearer, new_app, user_jwt
from tests.integrations.test_oauth_flow import connect_gmail
from tests.plain import plain

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
PATTERNS = ("connection_*.json", "credential_test_*.json")


def recorded() -> list[Path]:
    return sorted(p for pattern in PATTERNS for p in HISTORIES.glob(pattern))


def test_histories_are_recorded() -> None:
    assert {p.stem for p in recorded()} >= {
        "connection_refreshed_expired_v0",
        "connection_request_timeout_v0",
        "connection_authorized_disconnected_v0",
        "credential_test_passed_v0",
        "credential_test_failed_v0",
    }


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[ConnectionWorkflow, CredentialTestWorkflow],
        data_converter=session_converter(),
    )
    await replayer.replay_workflow(history)


async def _save(stack: Stack, workflow_id: str, name: str) -> None:
    async def closed() -> bool:
        described = await stack.client.get_workflow_handle(workflow_id).describe()
        return described.close_time is not None

    await wait_for(closed)
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    history = await plain(history, stack.client)
    await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json())


@pytest.mark.skipif(
    not os.environ.get("TASKYARD_RECORD_HISTORIES"),
    reason="set TASKYARD_RECORD_HISTORIES=1 to re-record",
)
async def test_record_histories(istack: Stack, fakes: Fakes) -> None:
    _owner, key = await new_user(istack)
    app_id, secret = await new_app(istack, key, toolkits=("gmail",))
    token = user_jwt(secret, app_id, "recorded-user")
    connection_id = await connect_gmail(istack, app_id, token)
    async with istack.api() as anon:
        r = await anon.delete(
            f"/v1/{app_id}/integrations/connections/{connection_id}", headers=bearer(token)
        )
        assert r.status_code == 200
    await _save(istack, connection_id, "connection_authorized_disconnected_v0")
    async with istack.api(key) as api:
        for name, bot_token in (("passed", VALID_TOKEN), ("failed", "xoxb-revoked-000000")):
            cred = (
                await api.post(
                    "/api/v1/credentials",
                    json={"name": name, "provider": "slack", "data": {"bot_token": bot_token}},
                )
            ).json()
            r = await api.post(f"/api/v1/credentials/{cred['id']}/test")
            await _save(istack, r.json()["executionId"], f"credential_test_{name}_v0")
