"""Recording attempts and keeping each endpoint's health, with single-statement updates.

Many deliveries to one endpoint run at once, so endpoint counters are changed
with atomic ``UPDATE … SET x = x + 1`` statements and state flips use guarded
``UPDATE … WHERE status != …``: exactly one attempt sees ``rowcount == 1`` when
an endpoint is switched off, and only that one announces it. A healthy
endpoint's row is not written on every success.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, case, func, insert, update
from sqlmodel import col

from store.db import Database, as_utc, utcnow
from store.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ATTEMPTS: Table = WebhookAttempt.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]

SUCCESS_WRITE_INTERVAL = timedelta(seconds=60)
ERROR_TEXT = 2000
Outcome = Literal["delivered", "retry", "failed", "throttled"]


class AttemptInput(BaseModel):
    delivery_id: str
    user_id: str
    endpoint_id: str
    event_id: str
    round: int = 0
    attempt: int = 1
    workflow_time: datetime  # endpoint health runs on workflow time (testable with time skipping)
    jitter: float = 0.0  # 0..1 from workflow.random(), so the schedule is replayable
    slot_reserved: bool = False


class AttemptOutput(BaseModel):
    outcome: Outcome
    final: bool = False
    attempted: bool = False  # a request was made (and recorded)
    exhausted: bool = False  # failed on every attempt the endpoint allows
    status_code: int | None = None
    error: str | None = None
    delay_seconds: float = 0.0
    max_attempts: int = 1
    endpoint_disabled: bool = False  # this attempt switched the endpoint off
    disabled_reason: str | None = None


class DeliveryPolicy(BaseModel):
    """The operator's knobs (settings) that shape every endpoint's schedule and health."""

    timeout_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0
    error_after_failures: int = 3
    disable_after_seconds: float = 3 * 24 * 3600.0
    allow_private_urls: bool = False


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


async def record_skip(db: Database, data: AttemptInput, reason: str) -> AttemptOutput:
    """The delivery cannot be attempted at all (endpoint gone or off): it fails, no request."""
    now = utcnow()
    async with db.session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == data.delivery_id)
            .values(status="failed", last_error=reason, updated_at=now, completed_at=now,
                    next_attempt_at=None)
        )
        await session.commit()
    return AttemptOutput(outcome="failed", final=True, error=reason)


async def mark_delivery(db: Database, delivery_id: str, status: str, error: str | None) -> None:
    now = utcnow()
    async with db.session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery_id)
            .values(status=status, last_error=error, updated_at=now, completed_at=now,
                    next_attempt_at=None)
        )
        await session.commit()


async def record_attempt(
    db: Database,
    data: AttemptInput,
    endpoint: WebhookEndpoint,
    policy: DeliveryPolicy,
    *,
    outcome: Outcome,
    status_code: int | None,
    error: str | None,
    snippet: str | None,
    gone: bool,
    started: datetime,
    duration_ms: int,
    delay: float,
) -> AttemptOutput:
    """Write the attempt, the endpoint's health and the delivery's new state in one commit.

    A delivery stops early when its own failure switched the endpoint off.
    """
    now = utcnow()
    error_text = error[:ERROR_TEXT] if error else None
    disabled_reason: str | None = None
    attempt_row = WebhookAttempt(
        delivery_id=data.delivery_id, round=data.round, attempt=data.attempt,
        started_at=started, duration_ms=duration_ms, status_code=status_code,
        response_snippet=snippet, error=error_text,
    )
    # Core statements on the tables (no unit of work, no ORM bulk-update pass): this runs
    # once per delivery, and its statements compile once per process.
    async with db.session() as session:
        await session.exec(insert(ATTEMPTS), params=attempt_row.model_dump())
        if outcome == "delivered":
            if not _looks_healthy(endpoint, data.workflow_time):
                await _healthy(session, endpoint.id, data.workflow_time)
        else:
            disabled_reason = await _failing(
                session, endpoint.id, data.workflow_time, policy, error_text, gone
            )
        exhausted = outcome == "retry" and data.attempt >= endpoint.max_attempts
        final = outcome != "retry" or exhausted or disabled_reason is not None
        if outcome == "delivered":
            status = "succeeded"
        else:
            status = "failed" if final else "retrying"
        await session.exec(
            update(DELIVERIES)
            .where(DELIVERIES.c.id == data.delivery_id)
            .values(
                status=status,
                attempts=DELIVERIES.c.attempts + 1,
                last_status_code=status_code,
                last_error=error_text,
                updated_at=now,
                next_attempt_at=None if final else now + timedelta(seconds=delay),
                completed_at=now if final else None,
            )
        )
        await session.commit()
    return AttemptOutput(
        outcome="failed" if (final and outcome == "retry") else outcome,
        final=final,
        attempted=True,
        exhausted=exhausted,
        status_code=status_code,
        error=error_text,
        delay_seconds=0.0 if final else delay,
        max_attempts=endpoint.max_attempts,
        endpoint_disabled=disabled_reason is not None,
        disabled_reason=disabled_reason,
    )


def _looks_healthy(endpoint: WebhookEndpoint, at: datetime) -> bool:
    """As loaded before the attempt: nothing to clear and last success recent. (A failure
    recorded meanwhile by another delivery is cleared by the next success.)"""
    last = as_utc(endpoint.last_success_at)
    return (endpoint.consecutive_failures == 0 and endpoint.status == "active"
            and last is not None and last >= at - SUCCESS_WRITE_INTERVAL)


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
    policy: DeliveryPolicy,
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
