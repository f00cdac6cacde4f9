"""Durable timers: delay steps and retry back-off, on the time-skipping server."""

from __future__ import annotations

import time

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from engine.models.runs import RunState
from tests.workflows.skipping import Skipping, skipping

__all__ = ["skipping"]


async def timers(handle: WorkflowHandle) -> list[float]:  # type: ignore[type-arg]
    return [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]


async def test_long_delay_and_backoff_take_no_wall_time(skipping: Skipping) -> None:
    t = skipping.target
    handle = await skipping.start(
        [
            {"name": "wait", "type": "delay", "config": {"ms": "{{input.waitMs}}"}},
            {
                "name": "down",
                "type": "http_request",
                "config": {"url": "http://127.0.0.1:9/x"},
                "retry": {"maxAttempts": 3, "backoffMs": 600_000},
                "continueOnError": True,
            },
            {
                "name": "after",
                "type": "http_request",
                "dependsOn": ["wait", "down"],
                "config": {"url": t.url("/echo/after")},
            },
        ],
        {"waitMs": 2 * 3600 * 1000},
    )
    started = time.monotonic()
    state: RunState = await handle.result()
    assert time.monotonic() - started < 30
    assert state.status == "completed"
    steps = {s.name: s for s in state.steps}
    assert steps["wait"].output == {"ms": 7_200_000}
    assert steps["down"].status == "failed" and steps["down"].attempts == 3
    assert steps["after"].status == "succeeded" and t.hits["after"] == 1
    assert sorted(await timers(handle)) == [600.0, 1200.0, 7200.0]
