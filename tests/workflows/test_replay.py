"""Recorded ``workflow_run`` histories replay against today's workflow code.

Re-record with ``TASKYARD_RECORD_HISTORIES=1 pytest tests/workflows/test_replay.py``
(only when a change is meant to be incompatible — otherwise guard it with
``workflow.patched`` and keep the old histories).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.worker import Replayer

from engine.workflows.workflow_run import WorkflowRunWorkflow
from tests.conftest import session_converter, wait_for
from tests.plain import plain
from tests.workflows.helpers import memo_writes
from tests.workflows.skipping import Skipping, skipping

__all__ = ["skipping"]
HISTORIES = Path(__file__).resolve().parent.parent / "histories"
KINDS = ("completed", "failed", "cancelled", "continued", "big_output")
# v1: before the timed-mirror patch; v2: with it; v3: one finishing local activity (patch
# ``workflow-run-one-finish``); v4 (what is recorded now): a lean begin (patch
# ``workflow-run-lean-begin``).
RECORD_AS = "v4"
NAMES = tuple(f"workflow_run_{kind}_{v}" for kind in KINDS for v in ("v1", "v2", "v3", RECORD_AS))


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("workflow_run_*.json"))


def test_every_history_is_recorded() -> None:
    assert {p.stem for p in recorded()} >= set(NAMES)


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(workflows=[WorkflowRunWorkflow], data_converter=session_converter())
    await replayer.replay_workflow(history)


def _mirrors(history: WorkflowHistory) -> tuple[list[str], int]:
    """(each ``TaskyardJobStatus`` upsert, how many memo upserts) in a run's history."""
    statuses = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[
            "TaskyardJobStatus"
        ].data.decode()
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        and "TaskyardJobStatus"
        in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    return statuses, memo_writes(history)


async def test_short_run_writes_visibility_twice(skipping: Skipping) -> None:
    """A run mirrors its job status into visibility at its start and its end only: every
    upsert is a visibility write on the server, and the exact progress is a query away.
    Started with the job memo it begins with, it writes that memo only at its end."""
    chain = [
        {
            "name": f"s{i}",
            "type": "http_request",
            "config": {"url": skipping.target.url(f"/echo/m{i}")},
            **({"dependsOn": [f"s{i - 1}"]} if i else {}),
        }
        for i in range(6)
    ]
    for memo, writes in ((True, 1), (False, 2)):
        handle = await skipping.start(chain, memo=memo)
        await handle.result()
        history = await handle.fetch_history()
        assert _mirrors(history) == (['"running"', '"completed"'], writes), memo
        description = await handle.describe()
        memo_now = await description.memo()
        assert memo_now["message"] == "Execution completed"
        assert memo_now["metadata"]["finishedSteps"] == 6 and memo_now["progress"] == 100


async def _save(s: Skipping, workflow_id: str, name: str, run_id: str | None = None) -> None:
    history = await s.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    history = await plain(history, s.client)
    await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json())


@pytest.mark.skipif(
    not os.environ.get("TASKYARD_RECORD_HISTORIES"),
    reason="set TASKYARD_RECORD_HISTORIES=1 to re-record",
)
async def test_record_histories(skipping: Skipping) -> None:
    s, t = skipping, skipping.target
    handle = await s.start(
        [
            {
                "name": "fetch",
                "type": "http_request",
                "config": {"url": t.url("/echo/rec?n={{input.n}}")},
            },
            {
                "name": "check",
                "type": "condition",
                "config": {
                    "expression": "steps.fetch.output.status == 200",
                    "then": ["yes"],
                    "else": ["no"],
                },
            },
            {"name": "yes", "type": "delay", "config": {"ms": 60_000}},
            {"name": "no", "type": "http_request", "config": {"url": t.url("/echo/no")}},
            {
                "name": "down",
                "type": "http_request",
                "config": {"url": "http://127.0.0.1:9/"},
                "retry": {"maxAttempts": 2, "backoffMs": 1000},
                "continueOnError": True,
                "dependsOn": ["fetch"],
            },
        ],
        {"n": 1},
    )
    await handle.result()
    await _save(s, handle.id, f"workflow_run_completed_{RECORD_AS}")

    handle = await s.start(
        [
            {"name": "bad", "type": "http_request", "config": {"url": "ftp://nowhere/"}},
            {"name": "never", "type": "delay", "config": {"ms": 1}, "dependsOn": ["bad"]},
        ]
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await _save(s, handle.id, f"workflow_run_failed_{RECORD_AS}")

    handle = await s.start(
        [
            {"name": "hold", "type": "http_request", "config": {"url": t.url("/hold/rec")}},
            {"name": "later", "type": "delay", "config": {"ms": 1}, "dependsOn": ["hold"]},
        ]
    )

    async def held() -> bool:
        return t.held["rec"] == 1

    await wait_for(held)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    t.release("rec")
    await _save(s, handle.id, f"workflow_run_cancelled_{RECORD_AS}")

    chain = [
        {
            "name": f"s{i}",
            "type": "http_request",
            "config": {"url": t.url(f"/echo/c{i}")},
            **({"dependsOn": [f"s{i - 1}"]} if i else {}),
        }
        for i in range(8)
    ]
    handle = await s.start(chain, history_limit=20)
    await handle.result()
    first = (await handle.describe()).raw_description.workflow_execution_info.first_run_id
    await _save(s, handle.id, f"workflow_run_continued_{RECORD_AS}", run_id=first)

    handle = await s.start(
        [
            {"name": "big", "type": "http_request", "config": {"url": t.url("/big/64")}},
            {
                "name": "use",
                "type": "http_request",
                "config": {"url": t.url("/echo/use?id={{steps.big.output.body.items[0].id}}")},
            },
        ]
    )
    await handle.result()
    await _save(s, handle.id, f"workflow_run_big_output_{RECORD_AS}")
