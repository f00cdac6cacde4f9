"""Queries of the webhooks area: endpoints, events stored with their deliveries, and the
delivery log. (One attempt's record and the endpoint health it changes are in
``store.delivery_repo``.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import or_
from sqlmodel import SQLModel, and_, col, select

from store.db import Database, dialect_insert, utcnow
from store.webhooks import (
    Subscription,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    live_subscriptions,
)

T = TypeVar("T")
# What a publisher makes of the live subscriptions: event rows, delivery rows, and its own
# result (the deliveries to start).
Plan = tuple[list[dict[str, Any]], list[dict[str, Any]], list[T]]


def insert_ignoring(session: Any, table: type[SQLModel]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL alike."""
    return dialect_insert(session, table).on_conflict_do_nothing()


async def store_events(
    db: Database, user_id: str, plan: Callable[[Sequence[Subscription]], Plan[T]]
) -> list[T]:
    """Read the user's live subscriptions, let ``plan`` choose the rows, insert what is not
    there yet, in one transaction; returns ``plan``'s result, or nothing when it chose none."""
    async with db.session() as session:
        # (A plain read first: with SQLite it opens no transaction, so the inserts below
        # still start theirs with a write.)
        endpoints = await live_subscriptions(session, user_id)
        event_rows, delivery_rows, result = plan(endpoints)
        if not delivery_rows:
            return []
        # Insert-if-absent: a retry keeps what exists. Rows as parameters (executemany), not
        # inlined VALUES: the statement compiles once.
        await session.exec(insert_ignoring(session, WebhookEvent), params=event_rows)
        await session.exec(insert_ignoring(session, WebhookDelivery), params=delivery_rows)
        await session.commit()
    return result


def _live(row: WebhookEndpoint | None, user_id: str) -> WebhookEndpoint | None:
    return row if row is not None and row.user_id == user_id and row.deleted_at is None else None


async def get_endpoint(db: Database, user_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    """The user's endpoint, unless deleted (another user's is the same as a missing one)."""
    async with db.session() as session:
        return _live(await session.get(WebhookEndpoint, endpoint_id), user_id)


async def list_endpoints(db: Database, user_id: str) -> list[WebhookEndpoint]:
    """The user's endpoints that are not deleted, oldest first."""
    async with db.session() as session:
        rows = await session.exec(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.user_id == user_id, col(WebhookEndpoint.deleted_at).is_(None))
            .order_by(col(WebhookEndpoint.created_at))
        )
        return list(rows.all())


async def change_endpoint(
    db: Database, user_id: str, endpoint_id: str, change: Callable[[WebhookEndpoint], None]
) -> WebhookEndpoint | None:
    """Apply ``change`` to the user's live endpoint and commit; None when there is none."""
    async with db.session() as session:
        row = _live(await session.get(WebhookEndpoint, endpoint_id), user_id)
        if row is None:
            return None
        change(row)
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
        return row


async def page_deliveries(
    db: Database,
    user_id: str,
    endpoint_id: str,
    *,
    status: str | None,
    event: str | None,
    limit: int,
    before: tuple[datetime, str] | None,
) -> tuple[list[WebhookDelivery], bool]:
    """One endpoint's deliveries, newest first, after the ``(created_at, id)`` of the last
    row of the previous page; returns the page and whether more follow."""
    d = WebhookDelivery
    query = select(d).where(d.endpoint_id == endpoint_id, d.user_id == user_id)
    if status:
        query = query.where(d.status == status)
    if event:
        query = query.where(d.event == event)
    if before:
        created, last_id = before
        query = query.where(
            or_(
                col(d.created_at) < created, and_(col(d.created_at) == created, col(d.id) < last_id)
            )
        )
    query = query.order_by(col(d.created_at).desc(), col(d.id).desc()).limit(limit + 1)
    async with db.session() as session:
        rows = list((await session.exec(query)).all())
    return rows[:limit], len(rows) > limit


async def delivery_record(
    db: Database, user_id: str, endpoint_id: str, delivery_id: str
) -> tuple[WebhookDelivery, list[WebhookAttempt], WebhookEvent | None] | None:
    """One delivery of the user's endpoint with every attempt (oldest first) and its event."""
    async with db.session() as session:
        row = await session.get(WebhookDelivery, delivery_id)
        if row is None or row.endpoint_id != endpoint_id or row.user_id != user_id:
            return None
        attempts = (
            await session.exec(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(col(WebhookAttempt.started_at), col(WebhookAttempt.attempt))
            )
        ).all()
        event = await session.get(WebhookEvent, row.event_id)
    return row, list(attempts), event


async def reopen_delivery(db: Database, delivery_id: str, next_round: int) -> None:
    """Put a delivery back to ``pending`` for its next round."""
    async with db.session() as session:
        fresh = await session.get(WebhookDelivery, delivery_id)
        assert fresh is not None
        fresh.round, fresh.status, fresh.updated_at = next_round, "pending", utcnow()
        fresh.next_attempt_at = fresh.completed_at = None
        session.add(fresh)
        await session.commit()


async def failed_deliveries(
    db: Database, user_id: str, endpoint_id: str, since: datetime, limit: int
) -> list[WebhookDelivery]:
    """Failed deliveries of an endpoint created since ``since``, oldest first."""
    d = WebhookDelivery
    async with db.session() as session:
        return list(
            (
                await session.exec(
                    select(d)
                    .where(
                        d.endpoint_id == endpoint_id,
                        d.user_id == user_id,
                        d.status == "failed",
                        col(d.created_at) >= since,
                    )
                    .order_by(col(d.created_at), col(d.id))
                    .limit(limit)
                )
            ).all()
        )
