"""Enrichment batch storage: choosing a batch's leads, reading a chunk, writing results.

A batch's leads are materialized once into ``enrichment_items`` (position ``seq``
0..n-1), so chunks are plain ranges of positions. Results are written per
sub-batch in one transaction that re-reads the leads, fills what is still empty
(or overwrites, when asked) and marks each item done only if it was still
pending: a retried activity finds the item done and leaves the lead alone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import col

from store.db import Database, utcnow
from store.lead_fields import TEXT_FIELDS, search_text
from store.lead_repo import LeadFilter, filtered, run
from store.leads import EnrichmentBatch, EnrichmentItem, Lead

PENDING, ENRICHED, FAILED, CANCELLED = "pending", "enriched", "failed", "cancelled"
ITEM_STATUSES = (PENDING, ENRICHED, FAILED, CANCELLED)
KEEP_BATCH_IDS = 10
_SEARCHED = frozenset({"first_name", "last_name", "company"})


@dataclass
class LeadResult:
    """What the providers said about one lead of a chunk, ready to be written."""

    seq: int
    lead_id: str
    suggestions: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Written:
    enriched: int
    failed: int
    changed: dict[str, list[str]]  # lead id → fields written


async def get_batch(db: Database, user_id: str, batch_id: str) -> EnrichmentBatch | None:
    return await db.get_owned(EnrichmentBatch, user_id, batch_id)


async def save_batch(db: Database, batch: EnrichmentBatch) -> None:
    await db.save(batch)


async def prepare_items(db: Database, batch_id: str, user_id: str) -> int:
    """Materialize the batch's leads once (ids the user does not own fail at once)."""
    now = utcnow()
    async with db.session() as session:
        batch = await session.get(EnrichmentBatch, batch_id)
        if batch is None or batch.user_id != user_id:
            raise LookupError(batch_id)
        if batch.prepared:
            return batch.total
        rows: list[dict[str, Any]] = []
        if batch.lead_ids is not None:
            wanted = list(dict.fromkeys(batch.lead_ids))
            owned: set[str] = set()
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                found = await run(
                    session,
                    select(col(Lead.id)).where(
                        col(Lead.user_id) == user_id, col(Lead.id).in_(part)
                    ),
                )
                owned.update(found.scalars())
            for seq, lead_id in enumerate(wanted):
                ok = lead_id in owned
                rows.append(
                    {
                        "batch_id": batch_id,
                        "seq": seq,
                        "lead_id": lead_id,
                        "status": PENDING if ok else FAILED,
                        "error": None if ok else "Lead not found",
                        "updated_at": None if ok else now,
                    }
                )
        else:
            chosen = await run(
                session,
                select(col(Lead.id))
                .where(*filtered(user_id, LeadFilter(**(batch.filter or {}))))
                .order_by(col(Lead.created_at), col(Lead.id)),
            )
            rows = [
                {
                    "batch_id": batch_id,
                    "seq": seq,
                    "lead_id": lead_id,
                    "status": PENDING,
                    "error": None,
                    "updated_at": None,
                }
                for seq, lead_id in enumerate(chosen.scalars())
            ]
        for start in range(0, len(rows), 1000):
            await run(session, insert(EnrichmentItem), params=rows[start : start + 1000])
        batch.prepared, batch.total = True, len(rows)
        session.add(batch)
        await session.commit()
        return len(rows)


async def pending_chunk(
    db: Database, batch_id: str, start: int, limit: int
) -> list[tuple[int, str, Lead | None]]:
    """(seq, lead id, lead) for the still-pending items with seq in [start, start+limit)."""
    statement = (
        select(col(EnrichmentItem.seq), col(EnrichmentItem.lead_id), Lead)
        .join(Lead, col(Lead.id) == col(EnrichmentItem.lead_id), isouter=True)
        .where(
            col(EnrichmentItem.batch_id) == batch_id,
            col(EnrichmentItem.seq) >= start,
            col(EnrichmentItem.seq) < start + limit,
            col(EnrichmentItem.status) == PENDING,
        )
        .order_by(col(EnrichmentItem.seq))
    )
    async with db.session() as session:
        rows = (await run(session, statement)).all()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def apply_suggestions(
    lead: Lead, suggestions: dict[str, str], allowed: Collection[str], overwrite: bool
) -> list[str]:
    """Fill empty fields (or replace, with ``overwrite``); returns the fields written."""
    changed: list[str] = []
    for name, raw in suggestions.items():
        if name not in allowed or name not in TEXT_FIELDS:
            continue
        value = str(raw).strip()[: TEXT_FIELDS[name]]
        current = getattr(lead, name)
        if not value or current == value or (current and not overwrite):
            continue
        setattr(lead, name, value)
        changed.append(name)
    return changed


def merged_enrichment(
    previous: dict[str, Any] | None, data: dict[str, Any], batch_id: str, now: datetime
) -> dict[str, Any]:
    before = dict(previous or {})
    providers = {**(before.get("providers") or {}), **data}
    # Append-only (last few): a batch id appearing twice would mean a lead written twice.
    batches = list(before.get("batchIds") or [])[-KEEP_BATCH_IDS + 1 :]
    return {
        "providers": providers,
        "updatedAt": now.isoformat().replace("+00:00", "Z"),
        "batchIds": [*batches, batch_id],
    }


async def write_results(
    db: Database,
    batch_id: str,
    user_id: str,
    results: list[LeadResult],
    *,
    allowed: Collection[str],
    overwrite: bool,
) -> Written:
    """Write one sub-batch: leads and their items together, skipping items already done."""
    if not results:
        return Written(0, 0, {})
    now = utcnow()
    async with db.session() as session:
        found = await run(
            session,
            select(EnrichmentItem)
            .where(
                col(EnrichmentItem.batch_id) == batch_id,
                col(EnrichmentItem.seq).in_([r.seq for r in results]),
                col(EnrichmentItem.status) == PENDING,
            )
            .with_for_update(),
        )
        items = {i.seq: i for i in found.scalars()}
        wanted = [r.lead_id for r in results if r.seq in items]
        loaded = await run(
            session,
            select(Lead)
            .where(col(Lead.id).in_(wanted), col(Lead.user_id) == user_id)
            .with_for_update(),
        )
        leads = {lead.id: lead for lead in loaded.scalars()}
        enriched = failed = 0
        changed: dict[str, list[str]] = {}
        for r in results:
            item = items.get(r.seq)
            if item is None:
                continue
            lead = leads.get(r.lead_id)
            item.updated_at = now
            if lead is None or r.error:
                item.status, item.error = FAILED, r.error or "Lead not found"
                item.result = {"providers": r.statuses} if r.statuses else None
                failed += 1
                continue
            fields = apply_suggestions(lead, r.suggestions, allowed, overwrite)
            lead.enrichment = merged_enrichment(lead.enrichment, r.data, batch_id, now)
            lead.enriched_at = lead.updated_at = now
            if _SEARCHED.intersection(fields):
                lead.search_text = search_text(lead.model_dump())
            item.status = ENRICHED
            item.result = {"fieldsUpdated": fields, "providers": r.statuses}
            enriched += 1
            changed[lead.id] = fields
        await session.commit()
    return Written(enriched, failed, changed)


async def close_pending(db: Database, batch_id: str, status: str, error: str | None) -> None:
    """Mark every still-pending item ``status`` (a cancelled or failed batch)."""
    async with db.session() as session:
        await run(
            session,
            update(EnrichmentItem)
            .where(col(EnrichmentItem.batch_id) == batch_id, col(EnrichmentItem.status) == PENDING)
            .values(status=status, error=error, updated_at=utcnow()),
        )
        await session.commit()


async def counts(db: Database, batch_id: str) -> dict[str, int]:
    async with db.session() as session:
        rows = (
            await run(
                session,
                select(col(EnrichmentItem.status), func.count())
                .where(col(EnrichmentItem.batch_id) == batch_id)
                .group_by(col(EnrichmentItem.status)),
            )
        ).all()
    found = {str(status): int(n) for status, n in rows}
    return {s: found.get(s, 0) for s in ITEM_STATUSES}


async def list_items(
    db: Database, batch_id: str, *, status: str | None, limit: int, offset: int
) -> tuple[list[EnrichmentItem], int]:
    clauses: list[Any] = [col(EnrichmentItem.batch_id) == batch_id]
    if status:
        clauses.append(col(EnrichmentItem.status) == status)
    async with db.session() as session:
        total = int(
            (
                await run(session, select(func.count()).select_from(EnrichmentItem).where(*clauses))
            ).scalar_one()
        )
        rows = (
            (
                await run(
                    session,
                    select(EnrichmentItem)
                    .where(*clauses)
                    .order_by(col(EnrichmentItem.seq))
                    .limit(limit)
                    .offset(offset),
                )
            )
            .scalars()
            .all()
        )
    return list(rows), total


async def count_matching(db: Database, user_id: str, lead_filter: dict[str, Any]) -> int:
    """How many of the user's leads a batch ``filter`` chooses (before it is prepared)."""
    async with db.session() as session:
        found = await run(
            session,
            select(func.count())
            .select_from(Lead)
            .where(*filtered(user_id, LeadFilter(**lead_filter))),
        )
        return int(found.scalar_one())
