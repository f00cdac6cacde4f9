"""Recorded LinkedIn workflow histories replay against today's code.

Re-record with ``TASKYARD_RECORD_HISTORIES=1 pytest tests/linkedin/test_replay.py``: it
drives the sandbox through the API (connect, a completed action, a cancelled one, a
limit pause) and saves the connect, action and governor histories.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from engine.models.linkedin import connect_workflow_id, governor_id
from engine.workflows.campaign_enrollment import CampaignEnrollmentWorkflow
from engine.workflows.linkedin_action import LinkedInActionWorkflow
from engine.workflows.linkedin_connect import LinkedInConnectWorkflow
from engine.workflows.linkedin_governor import LinkedInGovernorWorkflow
from engine.workflows.linkedin_poller import LinkedInPollerWorkflow
from store import linkedin as store
from tests.conftest import Stack, new_user, session_converter, wait_for
from tests.linkedin.helpers import fast_settings, follow, job, wait_status
from tests.plain import plain

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
NAMES = (
    "linkedin_connect_v1",
    "linkedin_action_completed_v1",
    "linkedin_action_cancelled_v1",
    "linkedin_governor_v1",
)
CAMPAIGNS = (
    "campaign_enrollment_replied_v1",
    "campaign_enrollment_timeout_v1",
    "campaign_enrollment_paused_v1",
    "campaign_enrollment_cancelled_v1",
    "linkedin_poller_v1",
    "linkedin_governor_restricted_v1",
)


def recorded() -> list[Path]:
    return sorted([*HISTORIES.glob("linkedin_*.json"), *HISTORIES.glob("campaign_*.json")])


def test_histories_are_recorded() -> None:
    # the continued-as-new governor run is saved by tests/linkedin/test_governor.py, the
    # campaign histories by test_campaign_sequence.py and test_campaigns_api.py
    assert {p.stem for p in recorded()} >= {*NAMES, "linkedin_governor_continued_v1", *CAMPAIGNS}


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[
            LinkedInGovernorWorkflow,
            LinkedInActionWorkflow,
            LinkedInConnectWorkflow,
            CampaignEnrollmentWorkflow,
            LinkedInPollerWorkflow,
        ],
        data_converter=session_converter(),
    )
    await replayer.replay_workflow(history)


async def _save(stack: Stack, workflow_id: str, name: str) -> None:
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    history = await plain(history, stack.client)
    await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json())


@pytest.mark.skipif(
    not os.environ.get("TASKYARD_RECORD_HISTORIES"),
    reason="set TASKYARD_RECORD_HISTORIES=1 to re-record",
)
async def test_record_histories(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    async with stack.api(key) as api:
        data = (await api.post("/api/v2/users/integrations/linkedin", json={})).json()["data"]
    await follow(stack, data["authUrl"])
    await _save(stack, connect_workflow_id(store.state_hash(data["state"])), NAMES[0])
    await fast_settings(stack, key, minDelaySeconds=1, maxDelaySeconds=2)
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    async with stack.api(key) as api:
        done = (
            await api.post(
                "/api/v2/linkedin/actions",
                json={
                    "actionType": "sendConnectionRequest",
                    "note": "Hi",
                    "profileUrl": "https://www.linkedin.com/in/ada-lovelace",
                },
            )
        ).json()["data"]["jobId"]
        waiting = (
            await api.post(
                "/api/v2/linkedin/actions",
                json={
                    "actionType": "viewProfile",
                    "scheduledAt": later,
                    "profileUrl": "https://www.linkedin.com/in/ada-lovelace",
                },
            )
        ).json()["data"]["jobId"]
        limited = (
            await api.post(
                "/api/v2/linkedin/actions",
                json={
                    "actionType": "followProfile",
                    "profileUrl": "https://www.linkedin.com/in/sandbox-limit-z",
                },
            )
        ).json()["data"]["jobId"]
    await wait_status(stack, key, done, "completed")

    async def told() -> bool:
        return "expected to run around" in (await job(stack, key, waiting))["message"]

    await wait_for(told)
    await wait_for(lambda: _paused(stack, key, limited))
    async with stack.api(key) as api:
        await api.delete(f"/api/v2/users/jobs/{waiting}")
        await api.delete(f"/api/v2/users/jobs/{limited}")
    await wait_status(stack, key, waiting, "cancelled")
    await wait_status(stack, key, limited, "cancelled")
    await _save(stack, done, NAMES[1])
    await _save(stack, waiting, NAMES[2])
    account = await store.get_account(stack.deps.db, user_id)
    assert account is not None
    await _save(stack, governor_id(account.id), NAMES[3])


async def _paused(stack: Stack, key: str, job_id: str) -> bool:
    return "paused" in (await job(stack, key, job_id))["message"]
