"""Publishing events: store them, find the subscribed endpoints, start one delivery each.

Runs as a local activity inside whatever workflow emits (a job ending, the
API's fan-out workflow). Everything it does is idempotent: event and delivery
ids are derived from the emitting job, rows already present are kept, and a
delivery workflow whose id already exists is left alone, so a retry after a
worker crash changes nothing that already happened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import SQLModel
from temporalio import activity
from temporalio.client import Client

from store.db import Database, dialect_insert, utcnow
from store.webhooks import (
    Subscription,
    WebhookDelivery,
    WebhookEvent,
    live_subscriptions,
    subscribes,
)


class EventInput(BaseModel):
    """One event. ``id`` and ``occurred_at`` are filled in by ``emit_events`` when omitted."""

    name: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, max_length=80)
    occurred_at: datetime | None = None
    # Only these endpoints, whatever they subscribe to (``webhook.test``).
    endpoint_ids: list[str] | None = None
    # Never these (``webhook.delivery.exhausted`` skips the endpoint that failed).
    exclude_endpoint_ids: list[str] = Field(default_factory=list)


class PublishEventsInput(BaseModel):
    user_id: str
    events: list[EventInput]


class DeliveryStart(BaseModel):
    """What a ``webhook_delivery`` workflow is started with: ids only."""

    delivery_id: str
    user_id: str
    endpoint_id: str
    event_id: str
    event: str
    round: int = 0


class PublishEventsOutput(BaseModel):
    delivery_ids: list[str] = Field(default_factory=list)


DeliveryStarter = Callable[[Client, list[DeliveryStart]], Awaitable[None]]


def derive_id(prefix: str, *parts: str) -> str:
    """A stable id from its parts (job id and event name; event id and endpoint id)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}{digest}"


def event_id_for(source_id: str, name: str) -> str:
    return derive_id("evt_", source_id, name)


def delivery_id_for(event_id: str, endpoint_id: str) -> str:
    return derive_id("whd_", event_id, endpoint_id)


def insert_ignoring(session: Any, table: type[SQLModel]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL alike."""
    return dialect_insert(session, table).on_conflict_do_nothing()


def targets(event: EventInput, endpoints: Sequence[Subscription]) -> list[Subscription]:
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


async def store_and_plan(db: Database, data: PublishEventsInput) -> list[DeliveryStart]:
    """Persist the events that have receivers and one delivery row per receiver."""
    for event in data.events:
        if not event.id:
            raise ValueError("events must carry ids (emit_events derives them)")
    async with db.session() as session:
        # (A plain read first: with SQLite it opens no transaction, so the inserts below
        # still start theirs with a write.)
        endpoints = await live_subscriptions(session, data.user_id)
        plan = [(event, endpoint) for event in data.events
                for endpoint in targets(event, endpoints)]
        if not plan:
            return []
        starts = await _store(session, data.user_id, plan)
        await session.commit()
    return starts


async def _store(
    session: Any, user_id: str, plan: list[tuple[EventInput, Subscription]]
) -> list[DeliveryStart]:
    """Insert the events and one delivery row per (event, endpoint); the caller commits."""
    starts = [
        DeliveryStart(
            delivery_id=delivery_id_for(event.id or "", endpoint.id),
            user_id=user_id,
            endpoint_id=endpoint.id,
            event_id=event.id or "",
            event=event.name,
        )
        for event, endpoint in plan
    ]
    now = utcnow()
    first: dict[str, EventInput] = {}
    for event, _endpoint in plan:
        first.setdefault(event.id or "", event)
    event_rows = [
        {"id": e.id, "user_id": user_id, "name": e.name,
         "occurred_at": e.occurred_at or now, "data": e.data, "created_at": now}
        for e in first.values()
    ]
    delivery_rows = [
        {"id": s.delivery_id, "user_id": s.user_id, "endpoint_id": s.endpoint_id,
         "event_id": s.event_id, "event": s.event, "status": "pending", "round": 0,
         "attempts": 0, "created_at": now, "updated_at": now}
        for s in starts
    ]
    # Insert-if-absent: a retry keeps what exists.
    # Rows as parameters (executemany), not inlined VALUES: the statement compiles once.
    await session.exec(insert_ignoring(session, WebhookEvent), params=event_rows)
    await session.exec(insert_ignoring(session, WebhookDelivery), params=delivery_rows)
    return starts


class EventActivities:
    """Holds the database and the function that starts delivery workflows."""

    def __init__(self, db: Database, start_deliveries: DeliveryStarter) -> None:
        self.db = db
        self.start_deliveries = start_deliveries

    @activity.defn(name="publish_events")
    async def publish_events(self, data: PublishEventsInput) -> PublishEventsOutput:
        starts = await store_and_plan(self.db, data)
        if starts:
            await self.start_deliveries(activity.client(), starts)
        return PublishEventsOutput(delivery_ids=[s.delivery_id for s in starts])
