"""What enrollments record, what provider events find, and the counts campaign stats read.

Recording a step is idempotent: the step's row is the guard (an enrollment finishes each
step index once), so a retried record never counts an invitation or a message twice.
Provider events are claimed by id; marking an enrollment accepted or replied keeps the first
time (``COALESCE``), so repeated and out-of-order events change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from store.campaigns import (
    LinkedInCampaign,
    LinkedInEnrollment,
    LinkedInEnrollmentStep,
    LinkedInProviderEvent,
)
from store.db import Database, as_utc, utcnow
from store.lead_repo import run

ACTIVE = ("pending", "active")


@dataclass(frozen=True)
class StepRecord:
    enrollment_id: str
    campaign_id: str
    at: datetime
    step: int | None = None
    step_type: str | None = None
    outcome: str | None = None
    next_step: int | None = None
    status: str | None = None
    acted: bool = False  # an action step that ran
    invited: bool = False
    messaged: bool = False
    provider_user_id: str | None = None
    error: str | None = None


async def record_step(db: Database, rec: StepRecord) -> LinkedInEnrollment | None:
    """Apply one step's outcome (and the end, when ``status`` is final) to the enrollment."""
    async with db.session() as session:
        row = await session.get(LinkedInEnrollment, rec.enrollment_id)
        if row is None:
            return None
        fresh = rec.step is None
        if rec.step is not None:
            step = await session.get(LinkedInEnrollmentStep, (rec.enrollment_id, rec.step))
            if step is None:
                fresh = True
                session.add(
                    LinkedInEnrollmentStep(
                        enrollment_id=rec.enrollment_id,
                        step_index=rec.step,
                        campaign_id=rec.campaign_id,
                        account_id=row.account_id,
                        step_type=rec.step_type or "",
                        outcome=rec.outcome or "done",
                        at=rec.at,
                    )
                )
        if fresh and rec.step is not None:
            if rec.invited and row.invited_at is None:
                row.invited_at = rec.at
            if rec.messaged:
                row.messages_sent += 1
            if rec.acted:
                row.actions += 1
                row.last_action_at = rec.at
        if rec.next_step is not None:
            row.current_step = max(row.current_step, rec.next_step)
        if rec.provider_user_id and not row.provider_user_id:
            row.provider_user_id = rec.provider_user_id[:200]
        if rec.error:
            row.error = rec.error[:2000]
        if rec.status and (row.status in ACTIVE or rec.status == row.status):
            row.status = rec.status
            if rec.status not in ACTIVE:
                row.finished_at = row.finished_at or utcnow()
        row.updated_at = utcnow()
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # the same step recorded concurrently: already counted
            return row
        return row


async def complete_campaign_if_done(db: Database, campaign_id: str) -> bool:
    """Mark a running campaign completed once none of its enrollments is open; True when this
    call did it (so the completion is announced once)."""
    now = utcnow()
    still_open = exists().where(
        col(LinkedInEnrollment.campaign_id) == campaign_id,
        col(LinkedInEnrollment.status).in_(list(ACTIVE)),
    )
    statement = (
        update(LinkedInCampaign)
        .where(
            col(LinkedInCampaign.id) == campaign_id,
            col(LinkedInCampaign.status) == "running",
            ~still_open,
        )
        .values(status="completed", finished_at=now, updated_at=now)
    )
    async with db.engine.begin() as conn:
        return bool((await conn.execute(statement)).rowcount == 1)


# ---- provider events ------------------------------------------------------------------------


async def claim_event(
    db: Database, event_id: str, *, provider: str, kind: str, account_id: str | None
) -> bool:
    """False when this event id was already processed (a repeat); True to process it (also a
    retry of one whose processing did not finish: processing is idempotent)."""
    async with db.session() as session:
        seen = await session.get(LinkedInProviderEvent, event_id)
        if seen is not None:
            return seen.processed_at is None
        session.add(
            LinkedInProviderEvent(id=event_id, provider=provider, kind=kind, account_id=account_id)
        )
        try:
            await session.commit()
        except IntegrityError:
            return False  # the same event, concurrently
    return True


async def event_processed(db: Database, event_id: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            update(LinkedInProviderEvent)
            .where(col(LinkedInProviderEvent.id) == event_id)
            .values(processed_at=utcnow())
        )


async def enrollments_for_member(
    db: Database, account_id: str, *, slug: str | None, provider_user_id: str | None
) -> list[LinkedInEnrollment]:
    """The account's open enrollments of one member (by public identifier or provider id)."""
    keys = []
    if slug:
        keys.append(col(LinkedInEnrollment.profile_slug) == slug.lower())
    if provider_user_id:
        keys.append(col(LinkedInEnrollment.provider_user_id) == provider_user_id)
    if not keys:
        return []
    query = select(LinkedInEnrollment).where(
        col(LinkedInEnrollment.account_id) == account_id,
        col(LinkedInEnrollment.status).in_(list(ACTIVE)),
        or_(*keys),
    )
    async with db.session() as session:
        return list((await run(session, query)).scalars().all())


async def mark_member_event(db: Database, ids: Sequence[str], kind: str, at: datetime) -> None:
    """First acceptance / reply time wins."""
    column = LinkedInEnrollment.accepted_at if kind == "accepted" else LinkedInEnrollment.replied_at
    async with db.engine.begin() as conn:
        await conn.execute(
            update(LinkedInEnrollment)
            .where(col(LinkedInEnrollment.id).in_(list(ids)))
            .values({column: func.coalesce(col(column), at), "updated_at": utcnow()})
        )


# ---- the sandbox's answers (polling) --------------------------------------------------------


@dataclass
class Awaiting:
    """An open enrollment that could hear from its member: invited and not accepted, or
    messaged and not replied."""

    enrollment: LinkedInEnrollment
    message_times: list[datetime] = field(default_factory=list)


async def awaiting_answers(db: Database, account_id: str, limit: int = 20_000) -> list[Awaiting]:
    query = (
        select(LinkedInEnrollment)
        .where(
            col(LinkedInEnrollment.account_id) == account_id,
            col(LinkedInEnrollment.status).in_(list(ACTIVE)),
            or_(
                col(LinkedInEnrollment.invited_at).is_not(None)
                & col(LinkedInEnrollment.accepted_at).is_(None),
                (col(LinkedInEnrollment.messages_sent) > 0)
                & col(LinkedInEnrollment.replied_at).is_(None),
            ),
        )
        .limit(limit)
    )
    async with db.session() as session:
        rows = list((await run(session, query)).scalars().all())
        messaged = [r.id for r in rows if r.messages_sent > 0]
        times: dict[str, list[datetime]] = {}
        for i in range(0, len(messaged), 500):
            steps = select(LinkedInEnrollmentStep).where(
                col(LinkedInEnrollmentStep.enrollment_id).in_(messaged[i : i + 500]),
                col(LinkedInEnrollmentStep.step_type) == "sendMessage",
                col(LinkedInEnrollmentStep.outcome) == "done",
            )
            for step in (await run(session, steps)).scalars().all():
                times.setdefault(step.enrollment_id, []).append(as_utc(step.at) or step.at)
    return [Awaiting(r, sorted(times.get(r.id, []))) for r in rows]


# ---- stats ----------------------------------------------------------------------------------


def _rates(row: Any) -> dict[str, Any]:
    invited, accepted = int(row.invited or 0), int(row.accepted or 0)
    messaged, replied = int(row.messaged or 0), int(row.replied or 0)
    return {
        "enrolled": int(row.enrolled or 0),
        "invited": invited,
        "accepted": accepted,
        "messaged": messaged,
        "replied": replied,
        "acceptanceRate": round(100.0 * accepted / invited, 1) if invited else 0.0,
        "replyRate": round(100.0 * replied / messaged, 1) if messaged else 0.0,
    }


def _sums() -> list[Any]:
    e = LinkedInEnrollment
    return [
        func.sum(case((col(e.status) != "pending", 1), else_=0)).label("enrolled"),
        func.sum(case((col(e.invited_at).is_not(None), 1), else_=0)).label("invited"),
        func.sum(case((col(e.accepted_at).is_not(None), 1), else_=0)).label("accepted"),
        func.sum(case((col(e.messages_sent) > 0, 1), else_=0)).label("messaged"),
        func.sum(case((col(e.replied_at).is_not(None), 1), else_=0)).label("replied"),
    ]


async def campaign_counts(db: Database, campaign_id: str) -> dict[str, Any]:
    """Totals, rates, enrollments by status, by account, and step outcomes by step."""
    e, s = LinkedInEnrollment, LinkedInEnrollmentStep
    where = col(e.campaign_id) == campaign_id
    async with db.session() as session:
        totals = (await run(session, select(*_sums()).where(where))).one()
        by_status = (
            await run(
                session, select(col(e.status), func.count()).where(where).group_by(col(e.status))
            )
        ).all()
        by_account = (
            await run(
                session,
                select(col(e.account_id).label("account"), *_sums())
                .where(where)
                .group_by(col(e.account_id)),
            )
        ).all()
        by_step = (
            await run(
                session,
                select(col(s.step_index), col(s.outcome), func.count())
                .where(col(s.campaign_id) == campaign_id)
                .group_by(col(s.step_index), col(s.outcome)),
            )
        ).all()
    steps: dict[int, dict[str, int]] = {}
    for index, outcome, count in by_step:
        steps.setdefault(int(index), {})[str(outcome)] = int(count)
    return {
        **_rates(totals),
        "byStatus": {str(k): int(v) for k, v in by_status},
        "accounts": [{"accountId": r.account, **_rates(r)} for r in by_account],
        "steps": steps,
    }


async def step_times(db: Database, campaign_id: str, step_type: str) -> dict[str, datetime]:
    """When each enrollment of a campaign finished its (first) step of ``step_type``."""
    query = select(LinkedInEnrollmentStep).where(
        col(LinkedInEnrollmentStep.campaign_id) == campaign_id,
        col(LinkedInEnrollmentStep.step_type) == step_type,
        col(LinkedInEnrollmentStep.outcome) == "done",
    )
    async with db.session() as session:
        rows = (await run(session, query)).scalars().all()
    found: dict[str, datetime] = {}
    for row in rows:
        at = as_utc(row.at) or row.at
        if row.enrollment_id not in found or at < found[row.enrollment_id]:
            found[row.enrollment_id] = at
    return found
