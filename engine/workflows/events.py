"""Emitting events from workflow code, so webhooks can deliver them.

Call from inside any job workflow when it ends::

    await emit_events(data.user_id, [EventInput(name="tool.completed", data={...})])

Each event's id is derived from the job id and the event name, and the emission is the
``publish_events`` local activity, whose every step is idempotent, so a job that ended
produces its events exactly once even if a worker dies in between. Events that happen in
the API with no job go through ``engine.services.events`` and the fan-out workflow here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from engine.models.events import (
        FANOUT_WORKFLOW,
        PUBLISH_EVENTS,
        PUBLISH_RETRY,
        PUBLISH_TIMEOUT,
        EventInput,
        PublishEventsInput,
        PublishEventsOutput,
        event_id_for,
    )

T = TypeVar("T")


def _publish(data: PublishEventsInput) -> Any:
    return workflow.execute_local_activity(
        PUBLISH_EVENTS,
        data,
        result_type=PublishEventsOutput,
        start_to_close_timeout=PUBLISH_TIMEOUT,
        retry_policy=PUBLISH_RETRY,
    )


def stamp_events(events: list[EventInput], source_id: str | None = None) -> list[EventInput]:
    """Give each event its id (from ``source_id``, default this workflow's id, and the
    event's name) and its time, unless it carries them."""
    source = source_id or workflow.info().workflow_id
    now = workflow.now()
    return [
        e.model_copy(
            update={"id": e.id or event_id_for(source, e.name), "occurred_at": e.occurred_at or now}
        )
        for e in events
    ]


async def shielded(awaitable: Awaitable[T]) -> T:
    """Await a job's closing step; a cancel arriving meanwhile waits for it to finish, then
    propagates."""
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def emit_events(
    user_id: str, events: list[EventInput], *, source_id: str | None = None
) -> list[str]:
    """Publish ``events`` for ``user_id``; returns the delivery ids started.

    ``source_id`` (default: this workflow's id) plus each event's name give the event id
    unless the event carries one. A cancellation arriving meanwhile waits for the emission
    to finish, then propagates.
    """
    if not events:
        return []
    resolved = stamp_events(events, source_id)
    try:
        out: PublishEventsOutput = await shielded(
            _publish(PublishEventsInput(user_id=user_id, events=resolved))
        )
    except ActivityError as err:
        # Only a non-retryable failure (a bug in the event itself) gets here.
        workflow.logger.error("events %s not published: %s", [e.id for e in resolved], err)
        return []
    return out.delivery_ids


@workflow.defn(name=FANOUT_WORKFLOW)
class EventFanoutWorkflow:
    """Publishes events that happened outside any job (API calls); its id is the event id."""

    @workflow.run
    async def run(self, data: PublishEventsInput) -> PublishEventsOutput:
        result: PublishEventsOutput = await _publish(data)
        return result
