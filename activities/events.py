"""Publishing events: store them, find the subscribed endpoints, start one delivery each.

``publish_events`` runs as a local activity inside whatever workflow emits (a job ending,
the API's fan-out workflow). Everything it does is idempotent: event and delivery ids are
derived from the emitting job, rows already present are kept, and a delivery workflow whose
id already exists is left alone, so a retry after a worker crash changes nothing that
already happened. ``DeliveryStarter`` is the one place delivery workflows are started,
here and by the API's retry and recover.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from engine.models import queues, summaries
from engine.models.events import (
    PUBLISH_EVENTS,
    DeliveryStart,
    EventInput,
    PublishEventsInput,
    PublishEventsOutput,
    delivery_id_for,
)
from engine.models.fairness import INTERACTIVE, NORMAL, fairness_key, job_priority
from engine.models.jobs import start_attributes, start_memo
from engine.models.metrics import JOBS_STARTED
from engine.models.webhooks import (
    DELIVERY_WORKFLOW,
    MAX_ENDPOINT_TIMEOUT,
    WebhookDeliveryInput,
)
from settings import Settings
from store.db import Database, utcnow
from store.quota_repo import LimitsCache
from store.webhook_repo import Plan, store_events
from store.webhooks import Subscription, subscribes

TEST_EVENT = "webhook.test"  # a test send: interactive, someone watches for it


@dataclass(frozen=True)
class DeliveryStarter:
    """Starts delivery workflows (as ``webhook_delivery`` jobs) on the webhooks queue."""

    task_queue_prefix: str
    heartbeat_timeout_seconds: float
    attempt_timeout_seconds: float
    concurrency: int = 32
    # Fair share: deliveries carry their user's fairness key and weight (``limits`` reads
    # an operator's override of the weight; without it the default weight applies).
    fairness: bool = True
    default_weight: float = 1.0
    limits: LimitsCache | None = None

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> DeliveryStarter:
        return cls(
            task_queue_prefix=settings.task_queue_prefix,
            heartbeat_timeout_seconds=settings.activity_heartbeat_timeout_seconds,
            # An attempt may wait for the slowest endpoint timeout, plus its own bookkeeping.
            attempt_timeout_seconds=max(settings.webhook_timeout_seconds, MAX_ENDPOINT_TIMEOUT)
            + 30.0,
            fairness=settings.fairness,
            default_weight=settings.fairness_default_weight,
            limits=LimitsCache(db, settings.quota_cache_seconds) if db is not None else None,
        )

    async def priority(self, user_id: str, event: str) -> Priority:
        """A test send is interactive (someone watches for it); other deliveries normal."""
        weight = None
        if self.fairness:
            override = (await self.limits.get(user_id)).fairness_weight if self.limits else None
            weight = override if override is not None else self.default_weight
        return job_priority(
            fairness_key(user_id),
            INTERACTIVE if event == TEST_EVENT else NORMAL,
            weight=weight,
            fairness=self.fairness,
        )

    async def start_all(self, client: Client, starts: list[DeliveryStart]) -> None:
        """Idempotent: a delivery whose workflow exists (running or closed) is left alone."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(start: DeliveryStart) -> None:
            async with gate:
                await self.start_new(client, start)

        await asyncio.gather(*(one(s) for s in starts))

    async def start_new(self, client: Client, start: DeliveryStart) -> bool:
        """Start one delivery unless its workflow exists already; whether it started."""
        try:
            await self.start(client, start, redeliver=False)
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def start(self, client: Client, s: DeliveryStart, *, redeliver: bool) -> None:
        """Start one delivery; ``redeliver`` starts the next round of a closed one."""
        priority = await self.priority(s.user_id, s.event)
        await client.start_workflow(
            DELIVERY_WORKFLOW,
            WebhookDeliveryInput(
                user_id=s.user_id,
                endpoint_id=s.endpoint_id,
                event_id=s.event_id,
                event=s.event,
                round=s.round,
                heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
                attempt_timeout_seconds=self.attempt_timeout_seconds,
            ),
            id=s.delivery_id,
            task_queue=queues.task_queue(self.task_queue_prefix, queues.WEBHOOKS),
            search_attributes=start_attributes(s.user_id, "webhook_delivery", priority),
            memo=start_memo(
                f"Queued {s.event}",
                {"event": s.event, "endpointId": s.endpoint_id, "eventId": s.event_id},
            ),
            id_conflict_policy=(
                WorkflowIDConflictPolicy.FAIL
                if redeliver
                else WorkflowIDConflictPolicy.USE_EXISTING
            ),
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if redeliver
                else WorkflowIDReusePolicy.REJECT_DUPLICATE
            ),
            static_summary=summaries.webhook_delivery(
                s.event, host=s.host, endpoint_id=s.endpoint_id
            ),
            priority=priority,
        )
        JOBS_STARTED.labels("webhook_delivery").inc()


def targets(event: EventInput, endpoints: Sequence[Subscription]) -> list[Subscription]:
    """The endpoints one event goes to."""
    chosen = []
    for endpoint in endpoints:
        if endpoint.id in event.exclude_endpoint_ids:
            continue
        if event.endpoint_ids is not None:
            if endpoint.id in event.endpoint_ids:
                chosen.append(endpoint)
        elif subscribes(endpoint.events, event.name):
            chosen.append(endpoint)
    return chosen


def _plan(data: PublishEventsInput, endpoints: Sequence[Subscription]) -> Plan[DeliveryStart]:
    """The rows to store for ``data``: each event with a receiver, one delivery per receiver."""
    pairs = [(event, endpoint) for event in data.events for endpoint in targets(event, endpoints)]
    starts = [
        DeliveryStart(
            delivery_id=delivery_id_for(event.id or "", endpoint.id),
            user_id=data.user_id,
            endpoint_id=endpoint.id,
            event_id=event.id or "",
            event=event.name,
            host=summaries.host_of(endpoint.url),
        )
        for event, endpoint in pairs
    ]
    now = utcnow()
    first: dict[str, EventInput] = {}
    for event, _endpoint in pairs:
        first.setdefault(event.id or "", event)
    event_rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "user_id": data.user_id,
            "name": e.name,
            "occurred_at": e.occurred_at or now,
            "data": e.data,
            "created_at": now,
        }
        for e in first.values()
    ]
    delivery_rows: list[dict[str, Any]] = [
        {
            "id": s.delivery_id,
            "user_id": s.user_id,
            "endpoint_id": s.endpoint_id,
            "event_id": s.event_id,
            "event": s.event,
            "status": "pending",
            "round": 0,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for s in starts
    ]
    return event_rows, delivery_rows, starts


async def store_and_plan(db: Database, data: PublishEventsInput) -> list[DeliveryStart]:
    """Persist the events that have receivers and one delivery row per receiver; returns
    the deliveries to start."""
    for event in data.events:
        if not event.id:
            raise ValueError("events must carry ids (emit_events derives them)")
    return await store_events(db, data.user_id, lambda endpoints: _plan(data, endpoints))


class EventActivities:
    """Holds the database and the starter of delivery workflows."""

    def __init__(self, db: Database, starter: DeliveryStarter) -> None:
        self.db = db
        self.starter = starter

    @activity.defn(name=PUBLISH_EVENTS)
    async def publish_events(self, data: PublishEventsInput) -> PublishEventsOutput:
        starts = await store_and_plan(self.db, data)
        if starts:
            await self.starter.start_all(activity.client(), starts)
        return PublishEventsOutput(delivery_ids=[s.delivery_id for s in starts])
