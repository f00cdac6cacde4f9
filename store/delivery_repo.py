"""Queries of one delivery attempt: load what it sends, record it, keep the endpoint's health.

Many deliveries to one endpoint run at once, so endpoint counters are changed with atomic
``UPDATE … SET x = x + 1`` statements and state flips use guarded ``UPDATE … WHERE status !=
…``: exactly one attempt sees ``rowcount == 1`` when an endpoint is switched off, and only
that one announces it. A healthy endpoint's row is not written on every success.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, func, insert, true, update
from sqlmodel import col, select

from store.db import Database, as_utc, utcnow
from store.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

ATTEMPTS: Table = WebhookAttempt.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]

SUCCESS_WRITE_INTERVAL = timedelta(seconds=60)
ERROR_TEXT = 2000


@dataclass(frozen=True)
class HealthPolicy:
    """When failures turn an endpoint to ``error``, and to ``disabled``."""

    error_after_failures: int
    disable_after_seconds: float


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as it is written."""

    delivery_id: str
    round: int
    attempt: int
    workflow_time: datetime  # endpoint health runs on workflow time (testable with time skipping)
    started: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    snippet: str | None


@dataclass(frozen=True)
class Recorded:
    """What recording decided: whether the delivery ended, and why."""

    final: bool
    exhausted: bool
    error: str | None
    disabled_reason: str | None


async def load_target(
    db: Database, endpoint_id: str, event_id: str
) -> tuple[WebhookEndpoint | None, WebhookEvent | None]:
    """Endpoint and event in one query (the common case), one by one if either is gone."""
    async with db.session() as session:
        pair = (
            await session.exec(
                select(WebhookEndpoint, WebhookEvent)
                .join(WebhookEvent, true())  # two lookups by key; the join says it is meant
                .where(WebhookEndpoint.id == endpoint_id, WebhookEvent.id == event_id)
            )
        ).first()
        if pair is not None:
            return pair[0], pair[1]
        return (
            await session.get(WebhookEndpoint, endpoint_id),
            await session.get(WebhookEvent, event_id),
        )


async def claim_slot(db: Database, endpoint_id: str, per_second: float) -> float:
    """Reserve the endpoint's next send slot; seconds until it comes (0 when free now)."""
    interval = 1.0 / per_second
    now = time.time()
    table = WebhookEndpoint.__table__  # type: ignore[attr-defined]
    async with db.session() as session:
        await session.exec(
            update(table)
            .where(table.c.id == endpoint_id)
            .values(
                throttle_next_at=case(
                    (table.c.throttle_next_at > now, table.c.throttle_next_at), else_=now
                )
                + interval
            )
        )
        row = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
        await session.commit()
    slot = (row.throttle_next_at if row and row.throttle_next_at else now + interval) - interval
    return max(0.0, slot - now)


async def mark_delivery(db: Database, delivery_id: str, status: str, error: str | None) -> None:
    """Close a delivery without an attempt (skipped, cancelled, or Taskyard's own failure)."""
    now = utcnow()
    async with db.session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery_id)
            .values(
                status=status,
                last_error=error,
                updated_at=now,
                completed_at=now,
                next_attempt_at=None,
            )
        )
        await session.commit()


async def record_attempt(
    db: Database,
    record: AttemptRecord,
    endpoint: WebhookEndpoint,
    policy: HealthPolicy,
    *,
    delivered: bool,
    retry: bool,
    gone: bool,
    delay: float,
) -> Recorded:
    """Write the attempt, the endpoint's health and the delivery's new state in one commit.

    A delivery stops early when its own failure switched the endpoint off.
    """
    now = utcnow()
    error_text = record.error[:ERROR_TEXT] if record.error else None
    disabled_reason: str | None = None
    attempt_row = WebhookAttempt(
        delivery_id=record.delivery_id,
        round=record.round,
        attempt=record.attempt,
        started_at=record.started,
        duration_ms=record.duration_ms,
        status_code=record.status_code,
        response_snippet=record.snippet,
        error=error_text,
    )
    # Core statements on the tables (no unit of work, no ORM bulk-update pass): this runs
    # once per delivery, and its statements compile once per process.
    async with db.session() as session:
        await session.exec(insert(ATTEMPTS), params=attempt_row.model_dump())
        if delivered:
            if not _looks_healthy(endpoint, record.workflow_time):
                await _healthy(session, endpoint.id, record.workflow_time)
        else:
            disabled_reason = await _failing(
                session, endpoint.id, record.workflow_time, policy, error_text, gone
            )
        exhausted = retry and record.attempt >= endpoint.max_attempts
        final = not retry or exhausted or disabled_reason is not None
        if delivered:
            status = "succeeded"
        else:
            status = "failed" if final else "retrying"
        await session.exec(
            update(DELIVERIES)
            .where(DELIVERIES.c.id == record.delivery_id)
            .values(
                status=status,
                attempts=DELIVERIES.c.attempts + 1,
                last_status_code=record.status_code,
                last_error=error_text,
                updated_at=now,
                next_attempt_at=None if final else now + timedelta(seconds=delay),
                completed_at=now if final else None,
            )
        )
        await session.commit()
    return Recorded(
        final=final, exhausted=exhausted, error=error_text, disabled_reason=disabled_reason
    )


def _looks_healthy(endpoint: WebhookEndpoint, at: datetime) -> bool:
    """As loaded before the attempt: nothing to clear and last success recent. (A failure
    recorded meanwhile by another delivery is cleared by the next success.)"""
    last = as_utc(endpoint.last_success_at)
    return (
        endpoint.consecutive_failures == 0
        and endpoint.status == "active"
        and last is not None
        and last >= at - SUCCESS_WRITE_INTERVAL
    )


async def _healthy(session: Any, endpoint_id: str, at: datetime) -> None:
    """One success clears the failure streak (and ``error``); no write when already clear."""
    e = WebhookEndpoint
    await session.exec(
        update(e)
        .where(
            col(e.id) == endpoint_id,
            (col(e.consecutive_failures) > 0)
            | (col(e.status) == "error")
            | col(e.last_success_at).is_(None)
            | (col(e.last_success_at) < at - SUCCESS_WRITE_INTERVAL),
        )
        .values(
            consecutive_failures=0,
            failing_since=None,
            last_success_at=at,
            status=case((col(e.status) == "error", "active"), else_=col(e.status)),
        )
    )


async def _failing(
    session: Any,
    endpoint_id: str,
    at: datetime,
    policy: HealthPolicy,
    error: str | None,
    gone: bool,
) -> str | None:
    """Count the failure; flip to ``error``, or to ``disabled`` (410 at once, or after
    ``disable_after_seconds`` of continuous failure). Returns the reason if this call
    disabled the endpoint."""
    e = WebhookEndpoint
    run = session.exec
    await run(
        update(e)
        .where(col(e.id) == endpoint_id)
        .values(
            consecutive_failures=col(e.consecutive_failures) + 1,
            failing_since=func.coalesce(col(e.failing_since), at),
            last_failure_at=at,
            last_error=error,
        )
    )
    await run(
        update(e)
        .where(
            col(e.id) == endpoint_id,
            col(e.status) == "active",
            col(e.consecutive_failures) >= policy.error_after_failures,
        )
        .values(status="error")
    )
    if gone:
        reason, condition = "gone", col(e.status) != "disabled"
    else:
        reason = "failing"
        cutoff = at - timedelta(seconds=policy.disable_after_seconds)
        condition = (col(e.status) != "disabled") & (col(e.failing_since) <= cutoff)
    result = await run(
        update(e)
        .where(col(e.id) == endpoint_id, condition)
        .values(status="disabled", disabled_reason=reason, updated_at=utcnow())
    )
    return reason if result.rowcount == 1 else None
