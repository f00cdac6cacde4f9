"""Recorded histories replay against today's workflow code.

``tool_execution_*_v0`` were recorded before events existed (no ``emit-events-v1``
marker) and must keep replaying; the ``_v1`` ones pin the event and delivery
workflows. Re-record with ``TASKYARD_RECORD_HISTORIES=1 pytest tests/webhooks/test_replay.py``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.worker import Replayer

from engine.models import queues
from engine.models.events import delivery_id_for
from engine.models.jobs import start_attributes
from engine.models.tools import ToolExecutionInput
from engine.workflows.events import EventFanoutWorkflow
from engine.workflows.tool_execution import ToolExecutionWorkflow
from engine.workflows.webhook_delivery import WebhookDeliveryWorkflow
from tests.conftest import session_converter
from tests.plain import plain
from tests.webhooks.helpers import received
from tests.webhooks.skipping import Skipping

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
PATTERNS = ("tool_execution_*.json", "webhook_delivery_*.json", "event_fanout_*.json")


def recorded() -> list[Path]:
    return sorted(p for pattern in PATTERNS for p in HISTORIES.glob(pattern))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[ToolExecutionWorkflow, WebhookDeliveryWorkflow, EventFanoutWorkflow],
        data_converter=session_converter(),
    )
    await replayer.replay_workflow(history)


def test_pre_event_histories_are_kept() -> None:
    names = {p.stem for p in recorded()}
    assert {"tool_execution_completed_v0", "tool_execution_failed_v0"} <= names
    assert {
        "tool_execution_completed_v1",
        "webhook_delivery_retried_v1",
        "webhook_delivery_exhausted_v1",
        "event_fanout_v1",
    } <= names


async def _save(s: Skipping, workflow_id: str, name: str) -> None:
    history = await s.client.get_workflow_handle(workflow_id).fetch_history()
    history = await plain(history, s.client)
    await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json())


@pytest.mark.skipif(
    not os.environ.get("TASKYARD_RECORD_HISTORIES"),
    reason="set TASKYARD_RECORD_HISTORIES=1 to re-record",
)
async def test_record_histories(skipping: Skipping) -> None:
    s = skipping
    user = await s.user()
    flaky = await s.endpoint(
        user, "/rec-flaky", ["lead.created", "tool.*"], max_attempts=3, backoff_ms=5000
    )
    down = await s.endpoint(user, "/rec-down", ["lead.updated"], max_attempts=2, backoff_ms=5000)
    await s.endpoint(user, "/rec-ops", ["webhook.*"])
    s.receiver.script["/rec-flaky"] = [500]
    s.receiver.default["/rec-down"] = 500

    event_id = await s.publish(user, "lead.created")
    await s.outcome(delivery_id_for(event_id, flaky))
    await _save(s, event_id, "event_fanout_v1")
    await _save(s, delivery_id_for(event_id, flaky), "webhook_delivery_retried_v1")

    event_id = await s.publish(user, "lead.updated")
    await s.outcome(delivery_id_for(event_id, down))
    await received(s.receiver, "/rec-ops")
    await _save(s, delivery_id_for(event_id, down), "webhook_delivery_exhausted_v1")

    queue = queues.task_queue(s.settings.task_queue_prefix, queues.TOOLS)
    for name, tool, params in (
        ("tool_execution_completed_v1", "HTTP_REQUEST", {"url": s.receiver.url("/echo")}),
        ("tool_execution_failed_v1", "NO_SUCH_TOOL", {}),
    ):
        job_id = "exec_" + uuid.uuid4().hex
        try:
            await s.client.execute_workflow(
                ToolExecutionWorkflow.run,
                ToolExecutionInput(user_id=user, tool_name=tool, params=params),
                id=job_id,
                task_queue=queue,
                search_attributes=start_attributes(user, "tool_execution"),
            )
        except WorkflowFailureError:
            pass
        await _save(s, job_id, name)
