"""Events: how jobs and the API announce what happened, so webhooks can deliver it.

Workflow side — call from inside any job workflow when it ends::

    from engine.events import EventInput, emit_events
    await emit_events(data.user_id, [EventInput(name="tool.completed", data={...})])

Each event's id is derived from the job id and the event name, and the
emission is a local activity whose every step is idempotent, so a job that
ended produces its events exactly once even if a worker dies in between.

Client side — for things that happen in the API with no job (``lead.created``)::

    await publish_event(services.jobs, user_id, "lead.created", data,
                        event_id_for(lead.id, "lead.created"), db=services.db)

starts a small fan-out workflow whose id is the event id; the API never sends
a webhook itself. See docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

from engine import queues

with workflow.unsafe.imports_passed_through():
    from activities.events import (
        EventInput,
        PublishEventsInput,
        PublishEventsOutput,
        delivery_id_for,
        event_id_for,
        store_and_plan,
    )
    from store.db import Database

__all__ = [
    "EVENT_CATALOG",
    "EventFanoutWorkflow",
    "EventInput",
    "PublishEventsInput",
    "PublishEventsOutput",
    "delivery_id_for",
    "emit_events",
    "event_id_for",
    "publish_event",
    "publish_events",
    "shielded",
    "stamp_events",
]

# Every event a webhook endpoint can subscribe to (``GET /api/v1/webhooks/events``).
EVENT_CATALOG: dict[str, str] = {
    "workflow.completed": "A workflow run finished successfully.",
    "workflow.failed": "A workflow run failed.",
    "workflow.cancelled": "A workflow run was cancelled.",
    "tool.completed": "A tool execution finished successfully.",
    "tool.failed": "A tool execution failed.",
    "linkedin.action.completed": "A LinkedIn action was performed.",
    "linkedin.action.failed": "A LinkedIn action failed.",
    "enrichment.completed": "An enrichment batch finished.",
    "enrichment.failed": "An enrichment batch failed.",
    "lead.created": "A lead was created.",
    "lead.updated": "A lead was updated.",
    "webhook.test": "A test delivery requested with POST /api/v1/webhooks/{id}/test.",
    "webhook.endpoint.disabled": "One of your webhook endpoints was disabled (410 Gone, or "
    "failing continuously).",
    "webhook.delivery.exhausted": "A webhook delivery failed on every attempt.",
    "connection.expired": "An app end user's connected account can no longer be refreshed; "
    "they must connect again.",
}

T = TypeVar("T")
PUBLISH_EVENTS = "publish_events"
FANOUT_WORKFLOW = "EventFanoutWorkflow"
PUBLISH_TIMEOUT = timedelta(seconds=60)
# Emission retries until it succeeds (the database may be briefly away); only a bug stops it.
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,
    non_retryable_error_types=["ValueError", "ValidationError", "TypeError"],
)


def _publish(data: PublishEventsInput) -> Any:
    return workflow.execute_local_activity(
        PUBLISH_EVENTS,
        data,
        result_type=PublishEventsOutput,
        start_to_close_timeout=PUBLISH_TIMEOUT,
        retry_policy=PUBLISH_RETRY,
    )


def stamp_events(events: list[EventInput], source_id: str | None = None) -> list[EventInput]:
    """Workflow side: give each event its id (from ``source_id``, default this workflow's
    id, and the event's name) and its time, unless it carries them."""
    source = source_id or workflow.info().workflow_id
    now = workflow.now()
    return [
        e.model_copy(
            update={"id": e.id or event_id_for(source, e.name), "occurred_at": e.occurred_at or now}
        )
        for e in events
    ]


async def shielded(awaitable: Awaitable[T]) -> T:
    """Workflow side: await a job's closing step; a cancel arriving meanwhile waits for it
    to finish, then propagates."""
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def emit_events(
    user_id: str, events: list[EventInput], *, source_id: str | None = None
) -> list[str]:
    """Workflow side: publish ``events`` for ``user_id``; returns the delivery ids started.

    ``source_id`` (default: this workflow's id) plus each event's name give the
    event id unless the event carries one. A cancellation arriving meanwhile
    waits for the emission to finish, then propagates.
    """
    if not events:
        return []
    resolved = stamp_events(events, source_id)
    try:
        out: PublishEventsOutput = await shielded(
            _publish(PublishEventsInput(user_id=user_id, events=resolved)))
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


async def publish_events(
    jobs: Any,
    user_id: str,
    events: list[EventInput],
    *,
    fanout_id: str,
    db: Database | None = None,
    task_queue_prefix: str | None = None,
) -> bool:
    """Client side: publish ``events`` without sending anything from the caller's process.

    ``jobs`` is a ``JobService`` or a ``Client`` (then ``task_queue_prefix`` is needed).
    Without ``db``: one fan-out workflow (id ``fanout_id``) stores and fans out. With
    ``db``: the events and their delivery rows are stored here first; nothing is started
    when no endpoint subscribes, a single delivery is started directly (one atomic start,
    no fan-out hop), and several go through the fan-out workflow so they start together
    or not at all. A repeat of the same ids is a no-op. Returns whether anything started.
    """
    client: Client = jobs if isinstance(jobs, Client) else jobs.client
    prefix = task_queue_prefix if task_queue_prefix is not None else jobs.prefix
    now = datetime.now(UTC)
    stamped = [
        e.model_copy(update={"id": e.id or event_id_for(fanout_id, e.name),
                             "occurred_at": e.occurred_at or now})
        for e in events
    ]
    data = PublishEventsInput(user_id=user_id, events=stamped)
    if db is not None:
        starts = await store_and_plan(db, data)
        if not starts:
            return False
        if len(starts) == 1:
            from engine.webhook_log import DeliveryStarter  # (imports this module)

            return await DeliveryStarter(task_queue_prefix=prefix).start_new(client, starts[0])
    try:
        await client.start_workflow(
            FANOUT_WORKFLOW,
            data,
            id=fanout_id,
            task_queue=queues.task_queue(prefix, queues.WEBHOOKS),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def publish_event(
    jobs: Any,
    user_id: str,
    event: str,
    data: dict[str, Any],
    event_id: str,
    *,
    db: Database | None = None,
    task_queue_prefix: str | None = None,
    occurred_at: datetime | None = None,
    endpoint_ids: list[str] | None = None,
) -> bool:
    """Client side, one event: the fan-out workflow's id is ``event_id``."""
    return await publish_events(
        jobs,
        user_id,
        [EventInput(name=event, data=data, id=event_id, occurred_at=occurred_at,
                    endpoint_ids=endpoint_ids)],
        fanout_id=event_id,
        db=db,
        task_queue_prefix=task_queue_prefix,
    )
