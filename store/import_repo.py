"""Lead import storage: staging uploaded rows, importing a range of them, listing errors.

The API stages every uploaded row (as parsed, unvalidated) and starts a job
with the import id; the activity validates and imports one range of rows per
call. A row's outcome is written in the same transaction as its lead, so a
retried chunk skips rows already done, and bad rows never stop good ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from store.db import Database, utcnow
from store.lead_fields import LeadFieldError, clean_fields, search_text
from store.lead_repo import run, tag_rows
from store.leads import Lead, LeadImport, LeadImportRow, LeadTag, new_lead_id

ROW_STATUSES = ("pending", "imported", "updated", "skipped", "failed")
ON_DUPLICATE = ("error", "skip", "update")


@dataclass
class RowOutcome:
    status: str
    lead_id: str | None = None
    code: str | None = None
    field: str | None = None
    message: str | None = None


async def stage_import(db: Database, record: LeadImport, rows: list[dict[str, Any]]) -> None:
    record.total_rows = len(rows)
    async with db.session() as session:
        session.add(record)
        await session.flush()
        for start in range(0, len(rows), 1000):
            await run(
                session,
                insert(LeadImportRow),
                params=[
                    {
                        "import_id": record.id,
                        "row_number": start + i + 1,
                        "data": row,
                        "status": "pending",
                    }
                    for i, row in enumerate(rows[start : start + 1000])
                ],
            )
        await session.commit()


async def get_import(db: Database, user_id: str, import_id: str) -> LeadImport | None:
    return await db.get_owned(LeadImport, user_id, import_id)


INVALID_ROW = "__invalid__"


def _validate(row: dict[str, Any], region: str) -> dict[str, Any] | RowOutcome:
    if INVALID_ROW in row:
        return RowOutcome("failed", code="INVALID_ROW", message=str(row[INVALID_ROW]))
    try:
        return clean_fields(row, region=region, partial=False)
    except LeadFieldError as exc:
        return RowOutcome("failed", code=exc.code, field=exc.field, message=exc.message)


async def _existing(session: AsyncSession, user_id: str, keys: list[str]) -> dict[str, Lead]:
    found: dict[str, Lead] = {}
    for start in range(0, len(keys), 500):
        rows = await run(
            session,
            select(Lead).where(
                col(Lead.user_id) == user_id, col(Lead.email_key).in_(keys[start : start + 500])
            ),
        )
        found.update({lead.email_key: lead for lead in rows.scalars()})
    return found


OPTIONAL = ("company", "phone", "linkedin_url", "job_title", "location", "notes")
GROUP = 200  # rows per transaction: short write locks, a responsive event loop


def _new_lead(user_id: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {k: values.get(k) for k in OPTIONAL}
    row.update(
        id=new_lead_id(),
        user_id=user_id,
        first_name=values["first_name"],
        last_name=values["last_name"],
        email=values["email"],
        email_key=values["email_key"],
        tags=values["tags"],
        custom_fields=values["custom_fields"],
        status=values["status"],
        search_text=search_text(values),
        enrichment=None,
        enriched_at=None,
        created_at=now,
        updated_at=now,
    )
    return row


def _tag_dicts(lead_id: str, user_id: str, tags: list[str]) -> list[dict[str, Any]]:
    return [
        {"lead_id": t.lead_id, "user_id": t.user_id, "tag": t.tag}
        for t in tag_rows(lead_id, user_id, tags)
    ]


async def _apply(
    session: AsyncSession,
    user_id: str,
    on_duplicate: str,
    rows: list[tuple[int, dict[str, Any]]],
    region: str,
) -> dict[int, RowOutcome]:
    """Validate and write one group of rows in the session's transaction (Core bulk inserts)."""
    cleaned = {number: _validate(data, region) for number, data in rows}
    keys = [v["email_key"] for v in cleaned.values() if isinstance(v, dict)]
    known = await _existing(session, user_id, list(dict.fromkeys(keys)))
    created: dict[str, dict[str, Any]] = {}
    outcomes: dict[int, RowOutcome] = {}
    now = utcnow()
    for number, data in rows:
        values = cleaned[number]
        if isinstance(values, RowOutcome):
            outcomes[number] = values
            continue
        key = values["email_key"]
        lead = known.get(key)
        fresh = created.get(key)
        if lead is None and fresh is None:
            created[key] = _new_lead(user_id, values, now)
            outcomes[number] = RowOutcome("imported", created[key]["id"])
            continue
        lead_id = lead.id if lead is not None else str(fresh["id"])  # type: ignore[index]
        if on_duplicate == "skip":
            outcomes[number] = RowOutcome(
                "skipped", lead_id, "DUPLICATE_EMAIL", "email", "A lead with this email exists"
            )
        elif on_duplicate != "update":
            outcomes[number] = RowOutcome(
                "failed", lead_id, "DUPLICATE_EMAIL", "email", "A lead with this email exists"
            )
        else:
            given = {k: v for k, v in values.items() if _given(data, k)}
            if fresh is not None:
                fresh.update(given)
                fresh["search_text"] = search_text(fresh)
            elif lead is not None:
                await _update_existing(session, lead, given, user_id, now)
            outcomes[number] = RowOutcome("updated", lead_id)
    if created:
        await run(session, insert(Lead), params=list(created.values()))
        tags = [t for c in created.values() for t in _tag_dicts(c["id"], user_id, c["tags"])]
        if tags:
            await run(session, insert(LeadTag), params=tags)
    return outcomes


async def _update_existing(
    session: AsyncSession, lead: Lead, given: dict[str, Any], user_id: str, now: datetime
) -> None:
    for key, value in given.items():
        setattr(lead, key, value)
    lead.search_text = search_text(lead.model_dump())
    lead.updated_at = now
    session.add(lead)
    if "tags" in given:
        await session.flush()
        await run(session, delete(LeadTag).where(col(LeadTag.lead_id) == lead.id))
        tags = _tag_dicts(lead.id, user_id, lead.tags)
        if tags:
            await run(session, insert(LeadTag), params=tags)


def _given(data: dict[str, Any], key: str) -> bool:
    """A duplicate row updates only the fields it carries (``title`` counts as job_title)."""
    if key == "email_key":
        return False
    if key == "job_title":
        return "job_title" in data or "title" in data
    return key in data


async def _mark(session: AsyncSession, import_id: str, outcomes: dict[int, RowOutcome]) -> None:
    await run(
        session,
        update(LeadImportRow),
        params=[
            {
                "import_id": import_id,
                "row_number": n,
                "status": o.status,
                "lead_id": o.lead_id,
                "error_code": o.code,
                "error_field": o.field,
                "error": o.message,
            }
            for n, o in outcomes.items()
        ],
    )


async def _still_pending(session: AsyncSession, import_id: str, numbers: list[int]) -> set[int]:
    found = await run(
        session,
        select(col(LeadImportRow.row_number)).where(
            col(LeadImportRow.import_id) == import_id,
            col(LeadImportRow.row_number).in_(numbers),
            col(LeadImportRow.status) == "pending",
        ),
    )
    return set(found.scalars())


async def _import_group(
    db: Database,
    import_id: str,
    user_id: str,
    on_duplicate: str,
    rows: list[tuple[int, dict[str, Any]]],
    region: str,
) -> dict[int, RowOutcome]:
    async with db.session() as session:
        pending = await _still_pending(session, import_id, [n for n, _ in rows])
        rows = [(n, d) for n, d in rows if n in pending]
        if not rows:
            return {}
        try:
            outcomes = await _apply(session, user_id, on_duplicate, rows, region)
            await _mark(session, import_id, outcomes)
            await session.commit()
            return outcomes
        except IntegrityError:
            await session.rollback()
    if len(rows) == 1:
        # Someone created this email meanwhile, between our check and our insert.
        number = rows[0][0]
        outcome = RowOutcome(
            "failed", None, "DUPLICATE_EMAIL", "email", "A lead with this email exists"
        )
        async with db.session() as session:
            await _mark(session, import_id, {number: outcome})
            await session.commit()
        return {number: outcome}
    outcomes = {}
    for row in rows:
        outcomes.update(await _import_group(db, import_id, user_id, on_duplicate, [row], region))
    return outcomes


async def import_range(
    db: Database,
    import_id: str,
    user_id: str,
    start: int,
    limit: int,
    *,
    region: str,
    progress: Callable[[], None] | None = None,
) -> int:
    """Import the still-pending rows numbered [start, start+limit); returns how many."""
    async with db.session() as session:
        record = await session.get(LeadImport, import_id)
        if record is None or record.user_id != user_id:
            raise LookupError(import_id)
        on_duplicate = record.on_duplicate
        found = await run(
            session,
            select(col(LeadImportRow.row_number), col(LeadImportRow.data))
            .where(
                col(LeadImportRow.import_id) == import_id,
                col(LeadImportRow.row_number) >= start,
                col(LeadImportRow.row_number) < start + limit,
                col(LeadImportRow.status) == "pending",
            )
            .order_by(col(LeadImportRow.row_number)),
        )
        rows = [(int(n), dict(d)) for n, d in found.all()]
    done = 0
    for offset in range(0, len(rows), GROUP):
        outcomes = await _import_group(
            db, import_id, user_id, on_duplicate, rows[offset : offset + GROUP], region
        )
        done += len(outcomes)
        if progress is not None:
            progress()
        await asyncio.sleep(0)
    if done:
        await refresh_statistics(db)
    return done


async def refresh_statistics(db: Database) -> None:
    """ANALYZE the lead tables on PostgreSQL after a bulk insert.

    Until autovacuum gets to them, fresh tables have no statistics and the planner can
    pick a quadratic plan for the tag filter (16 s instead of 12 ms at 10,000 leads).
    SQLite plans without statistics, so nothing is needed there.
    """
    if db.engine.dialect.name != "postgresql":
        return
    async with db.session() as session:
        await run(session, text("ANALYZE leads"))
        await run(session, text("ANALYZE lead_tags"))
        await session.commit()


async def import_counts(db: Database, import_id: str) -> dict[str, int]:
    async with db.session() as session:
        rows = (
            await run(
                session,
                select(col(LeadImportRow.status), func.count())
                .where(col(LeadImportRow.import_id) == import_id)
                .group_by(col(LeadImportRow.status)),
            )
        ).all()
    found = {str(status): int(n) for status, n in rows}
    return {s: found.get(s, 0) for s in ROW_STATUSES}


async def list_problems(
    db: Database, import_id: str, *, limit: int, offset: int
) -> tuple[list[LeadImportRow], int]:
    """Rows that failed or were skipped, in row order."""
    clauses = [
        col(LeadImportRow.import_id) == import_id,
        col(LeadImportRow.status).in_(("failed", "skipped")),
    ]
    async with db.session() as session:
        total = int(
            (
                await run(session, select(func.count()).select_from(LeadImportRow).where(*clauses))
            ).scalar_one()
        )
        rows = (
            (
                await run(
                    session,
                    select(LeadImportRow)
                    .where(*clauses)
                    .order_by(col(LeadImportRow.row_number))
                    .limit(limit)
                    .offset(offset),
                )
            )
            .scalars()
            .all()
        )
    return list(rows), total
