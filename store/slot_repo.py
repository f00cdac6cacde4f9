"""Slots of a user's running-executions cap: claim one, wait in line, hand it on.

An execution recorded by the API under a cap takes one of the user's slots
(the ``running:workflow_run`` counter, raised only while it stays within the
cap) or waits in line (``slot = 'queued'``, oldest first). When a run ends its
finishing activity releases what it held and the freed slots go to the oldest
waiting runs in the same transaction; the caller then wakes those runs with a
signal. Nothing here asks Temporal, so an execute under the cap costs no
visibility call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select, update

from store.db import Database, as_utc
from store.quota_repo import give_back_in, take_in, value_in
from store.workflows import ExecutionRecord

RUNNING = "running"
QUEUED = "queued"
COUNTER = "running:workflow_run"


@dataclass(frozen=True)
class Claim:
    """``queued``: the run waits for a slot; ``running``: how many the user runs now."""

    queued: bool
    running: int


async def _oldest_queued(session: Any, user_id: str) -> str | None:
    found = (
        await session.exec(
            select(ExecutionRecord.id)
            .where(ExecutionRecord.user_id == user_id, ExecutionRecord.slot == QUEUED)
            .order_by(col(ExecutionRecord.created_at), col(ExecutionRecord.id))
            .limit(1)
        )
    ).first()
    return str(found) if found is not None else None


async def _set_slot(session: Any, execution_id: str, old: str | None, new: str | None) -> bool:
    result = await session.exec(
        update(ExecutionRecord)
        .where(
            col(ExecutionRecord.id) == execution_id,
            col(ExecutionRecord.slot).is_(None)
            if old is None
            else col(ExecutionRecord.slot) == old,
        )
        .values(slot=new)
    )
    return bool(result.rowcount == 1)


async def _grant(session: Any, user_id: str, limit: int) -> list[str]:
    """Hand free slots to the oldest waiting runs; their ids (to be woken)."""
    granted: list[str] = []
    while (waiting := await _oldest_queued(session, user_id)) is not None:
        if not await take_in(session, user_id, COUNTER, 1, limit):
            break
        if await _set_slot(session, waiting, QUEUED, RUNNING):
            granted.append(waiting)
    return granted


async def claim(db: Database, user_id: str, execution_id: str, limit: int) -> Claim:
    """Take a slot for a just-recorded execution, or put it in line: a run never overtakes
    the user's runs already waiting."""
    async with db.session() as session:
        taken = False
        if await _oldest_queued(session, user_id) is None:
            taken = await take_in(session, user_id, COUNTER, 1, limit)
        await _set_slot(session, execution_id, None, RUNNING if taken else QUEUED)
        running = await value_in(session, user_id, COUNTER)
        await session.commit()
    return Claim(queued=not taken, running=running)


async def release(db: Database, execution_id: str, limit: int) -> list[str]:
    """A run ended (or never started): free its slot or its place in line, and hand freed
    slots on. Idempotent; returns the executions granted a slot, to be woken."""
    async with db.session() as session:
        row = (
            await session.exec(
                select(ExecutionRecord.user_id, ExecutionRecord.slot).where(
                    ExecutionRecord.id == execution_id
                )
            )
        ).first()
        if row is None or row[1] is None:
            return []
        user_id, held = row
        granted: list[str] = []
        if await _set_slot(session, execution_id, held, None):
            if held == RUNNING:
                await give_back_in(session, user_id, COUNTER, 1)
            granted = await _grant(session, user_id, limit)
        await session.commit()
    return granted


async def grant(db: Database, user_id: str, limit: int) -> list[str]:
    """Hand any free slots to waiting runs (after stale slots were released)."""
    async with db.session() as session:
        granted = await _grant(session, user_id, limit)
        await session.commit()
    return granted


async def holders(db: Database, user_id: str, *, before: datetime) -> list[str]:
    """The user's executions holding a slot, recorded before ``before`` (reconciliation)."""
    async with db.session() as session:
        rows = await session.exec(
            select(ExecutionRecord.id).where(
                ExecutionRecord.user_id == user_id,
                ExecutionRecord.slot == RUNNING,
                col(ExecutionRecord.created_at) < before,
            )
        )
        return [str(r) for r in rows.all()]


async def usage(db: Database, user_id: str) -> tuple[int, int]:
    """(running under the cap, waiting in line) for one user."""
    async with db.session() as session:
        running = await value_in(session, user_id, COUNTER)
        queued = (
            await session.exec(
                select(func.count())
                .select_from(ExecutionRecord)
                .where(ExecutionRecord.user_id == user_id, ExecutionRecord.slot == QUEUED)
            )
        ).one()
    return running, int(queued)


async def recorded_at(db: Database, execution_id: str) -> datetime | None:
    """When the API recorded an execution (None: no such record)."""
    async with db.session() as session:
        found = (
            await session.exec(
                select(ExecutionRecord.created_at).where(ExecutionRecord.id == execution_id)
            )
        ).first()
    return as_utc(found) if found is not None else None


async def slot_of(db: Database, execution_id: str) -> str | None:
    async with db.session() as session:
        found = (
            await session.exec(
                select(ExecutionRecord.slot).where(ExecutionRecord.id == execution_id)
            )
        ).first()
    return str(found) if found is not None else None
