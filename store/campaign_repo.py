"""LinkedIn campaigns and their enrollments: create, read, list, change state, add and
remove targets. (What workflows record and what provider events find is in
``store.enrollment_repo``.)

State changes are conditional UPDATEs (``WHERE status IN …``), so two requests racing to
start, pause or cancel the same campaign cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from store.campaigns import LinkedInCampaign, LinkedInEnrollment
from store.db import Database, utcnow
from store.errors import ConflictError, NotFoundError
from store.lead_repo import LeadFilter, filtered, run
from store.leads import Lead

ACTIVE = ("pending", "active")


class CampaignNotFound(NotFoundError):
    code = "CAMPAIGN_NOT_FOUND"


class CampaignStateConflict(ConflictError):
    code = "CAMPAIGN_STATE_CONFLICT"


class EnrollmentNotFound(NotFoundError):
    code = "LEAD_NOT_IN_CAMPAIGN"


async def create_campaign(db: Database, row: LinkedInCampaign) -> LinkedInCampaign:
    return await db.save(row)


async def get_campaign(db: Database, user_id: str, campaign_id: str) -> LinkedInCampaign:
    row = await db.get_owned(LinkedInCampaign, user_id, campaign_id)
    if row is None:
        raise CampaignNotFound(f"Campaign {campaign_id} not found")
    return row


async def list_campaigns(
    db: Database,
    user_id: str,
    *,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[LinkedInCampaign]:
    """Newest first; ``after`` is the (created_at, id) of the previous page's last row."""
    query = select(LinkedInCampaign).where(col(LinkedInCampaign.user_id) == user_id)
    if status:
        query = query.where(col(LinkedInCampaign.status) == status)
    if after is not None:
        created, last_id = after
        at = col(LinkedInCampaign.created_at)
        query = query.where(
            or_(at < created, and_(at == created, col(LinkedInCampaign.id) < last_id))
        )
    query = query.order_by(
        col(LinkedInCampaign.created_at).desc(), col(LinkedInCampaign.id).desc()
    ).limit(limit)
    async with db.session() as session:
        return list((await run(session, query)).scalars().all())


async def update_campaign(
    db: Database, user_id: str, campaign_id: str, values: dict[str, Any], *, when: Sequence[str]
) -> LinkedInCampaign:
    """Change fields while the campaign is in one of ``when`` (else CampaignStateConflict)."""
    await transition(db, user_id, campaign_id, when=when, values=values)
    return await get_campaign(db, user_id, campaign_id)


async def transition(
    db: Database,
    user_id: str,
    campaign_id: str,
    *,
    when: Sequence[str],
    values: dict[str, Any],
) -> None:
    """One conditional UPDATE; CampaignStateConflict names the status that refused it."""
    statement = (
        update(LinkedInCampaign)
        .where(
            col(LinkedInCampaign.id) == campaign_id,
            col(LinkedInCampaign.user_id) == user_id,
            col(LinkedInCampaign.status).in_(list(when)),
        )
        .values(**values, updated_at=utcnow())
    )
    async with db.engine.begin() as conn:
        result = await conn.execute(statement)
    if result.rowcount != 1:
        current = await get_campaign(db, user_id, campaign_id)
        raise CampaignStateConflict(
            f"Campaign {campaign_id} is {current.status}",
            details={"status": current.status, "allowed": list(when)},
        )


async def running_campaigns_using(
    db: Database, user_id: str, account_id: str
) -> list[LinkedInCampaign]:
    """The user's running campaigns that send from ``account_id``."""
    query = select(LinkedInCampaign).where(
        col(LinkedInCampaign.user_id) == user_id, col(LinkedInCampaign.status) == "running"
    )
    async with db.session() as session:
        rows = (await run(session, query)).scalars().all()
    return [r for r in rows if account_id in (r.account_ids or [])]


# ---- targets --------------------------------------------------------------------------------


async def leads_matching(db: Database, user_id: str, f: LeadFilter, limit: int) -> list[Lead]:
    """The user's leads under ``f`` that have a LinkedIn URL, at most ``limit``."""
    query = (
        select(Lead)
        .where(*filtered(user_id, f), col(Lead.linkedin_url).is_not(None))
        .order_by(col(Lead.created_at), col(Lead.id))
        .limit(limit)
    )
    async with db.session() as session:
        return list((await run(session, query)).scalars().all())


async def known_slugs(db: Database, campaign_id: str, slugs: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(slugs))
    found: set[str] = set()
    async with db.session() as session:
        for i in range(0, len(wanted), 500):
            query = select(col(LinkedInEnrollment.profile_slug)).where(
                col(LinkedInEnrollment.campaign_id) == campaign_id,
                col(LinkedInEnrollment.profile_slug).in_(wanted[i : i + 500]),
            )
            found.update((await run(session, query)).scalars().all())
    return found


async def count_targets(db: Database, campaign_id: str) -> int:
    query = select(func.count()).where(col(LinkedInEnrollment.campaign_id) == campaign_id)
    async with db.session() as session:
        return int((await run(session, query)).scalar_one())


async def add_enrollments(
    db: Database, rows: list[LinkedInEnrollment]
) -> tuple[list[LinkedInEnrollment], int]:
    """Insert new targets; returns (added, duplicates). A member already in the campaign
    (also one added concurrently) is a duplicate, never an error."""
    if not rows:
        return [], 0
    known = await known_slugs(db, rows[0].campaign_id, (r.profile_slug for r in rows))
    fresh = [r for r in rows if r.profile_slug not in known]
    try:
        async with db.session() as session:
            session.add_all(fresh)
            await session.commit()
        return fresh, len(rows) - len(fresh)
    except IntegrityError:
        added: list[LinkedInEnrollment] = []
        for row in fresh:  # a concurrent request added some of them: one by one
            try:
                async with db.session() as session:
                    session.add(row)
                    await session.commit()
                added.append(row)
            except IntegrityError:
                continue
        return added, len(rows) - len(added)


async def enrollments(
    db: Database,
    campaign_id: str,
    *,
    statuses: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[LinkedInEnrollment]:
    """A campaign's enrollments in the order they were added."""
    query = select(LinkedInEnrollment).where(col(LinkedInEnrollment.campaign_id) == campaign_id)
    if statuses:
        query = query.where(col(LinkedInEnrollment.status).in_(list(statuses)))
    query = query.order_by(col(LinkedInEnrollment.position), col(LinkedInEnrollment.id))
    if limit is not None:
        query = query.limit(limit)
    async with db.session() as session:
        return list((await run(session, query)).scalars().all())


async def find_enrollment(db: Database, campaign_id: str, ref: str) -> LinkedInEnrollment:
    """An enrollment by its id, its lead id or its member's public identifier."""
    query = select(LinkedInEnrollment).where(
        col(LinkedInEnrollment.campaign_id) == campaign_id,
        or_(
            col(LinkedInEnrollment.id) == ref,
            col(LinkedInEnrollment.lead_id) == ref,
            col(LinkedInEnrollment.profile_slug) == ref.lower(),
        ),
    )
    async with db.session() as session:
        row = (await run(session, query.limit(1))).scalars().first()
    if row is None:
        raise EnrollmentNotFound(f"{ref} is not in campaign {campaign_id}")
    return row


async def set_enrollment_status(
    db: Database,
    ids: Sequence[str],
    status: str,
    *,
    only_from: Sequence[str] | None = None,
    started: bool = False,
) -> int:
    """Set many enrollments' status (``only_from``: only those still in one of these)."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if started:
        values["started_at"] = now
    if status not in ACTIVE:
        values["finished_at"] = now
    changed = 0
    async with db.engine.begin() as conn:
        for i in range(0, len(ids), 500):
            statement = update(LinkedInEnrollment).where(
                col(LinkedInEnrollment.id).in_(list(ids[i : i + 500]))
            )
            if only_from:
                statement = statement.where(col(LinkedInEnrollment.status).in_(list(only_from)))
            changed += (await conn.execute(statement.values(**values))).rowcount
    return changed


async def finish_open_enrollments(db: Database, campaign_id: str, status: str) -> int:
    """Every enrollment of the campaign not yet ended gets ``status`` (cancel)."""
    now = utcnow()
    statement = (
        update(LinkedInEnrollment)
        .where(
            col(LinkedInEnrollment.campaign_id) == campaign_id,
            col(LinkedInEnrollment.status).in_(list(ACTIVE)),
        )
        .values(status=status, finished_at=now, updated_at=now)
    )
    async with db.engine.begin() as conn:
        return int((await conn.execute(statement)).rowcount)
