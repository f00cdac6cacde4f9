"""Queries of workflow executions: the record a run leaves, and its outputs kept by reference."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from store.db import Database, dialect_insert, utcnow
from store.errors import ConflictError
from store.workflows import ExecutionRecord, StepOutput


class IdempotencyKeyReused(ConflictError):
    """The user's ``Idempotency-Key`` already named an execution of another request."""

    code = "IDEMPOTENCY_KEY_REUSED"


async def add_execution(db: Database, record: ExecutionRecord) -> tuple[ExecutionRecord, bool]:
    """Insert an execution's record before its run starts; (record, whether it was already
    there). The idempotency key is unique per user: a repeat of the same request (same
    ``request_hash``) gets the existing record back, another request ``IdempotencyKeyReused``."""
    async with db.session() as session:
        session.add(record)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            if record.idempotency_key is None:
                raise
            existing = (
                await session.exec(
                    select(ExecutionRecord).where(
                        ExecutionRecord.user_id == record.user_id,
                        ExecutionRecord.idempotency_key == record.idempotency_key,
                    )
                )
            ).first()
            if existing is None:
                raise
            if existing.request_hash != record.request_hash:
                raise IdempotencyKeyReused(
                    "Idempotency-Key was already used with a different request"
                ) from None
            return existing, True
    return record, False


async def get_execution(db: Database, user_id: str, execution_id: str) -> ExecutionRecord | None:
    """The user's execution record (another user's is the same as a missing one)."""
    return await db.get_owned(ExecutionRecord, user_id, execution_id)


async def delete_execution(db: Database, execution_id: str) -> None:
    """Forget the record of a run that did not start; a missing one is fine."""
    async with db.session() as session:
        row = await session.get(ExecutionRecord, execution_id)
        if row is not None:
            await session.delete(row)
            await session.commit()


async def record_end(
    db: Database,
    *,
    execution_id: str,
    user_id: str,
    workflow_id: str,
    version: int,
    input: dict[str, Any],
    retry_of: str | None,
    from_step: str | None,
    schedule_id: str | None,
    status: str,
    state: dict[str, Any],
    completed_at: datetime | None,
) -> None:
    """Keep a run's final state so it reads back without Temporal or a worker."""
    now = utcnow()
    async with db.session() as session:
        insert = dialect_insert(session, ExecutionRecord).values(
            id=execution_id,
            user_id=user_id,
            workflow_id=workflow_id,
            version=version,
            input=input,
            retry_of=retry_of,
            from_step=from_step,
            schedule_id=schedule_id,
            status=status,
            state=state,
            created_at=now,
            completed_at=completed_at or now,
        )
        # Written by the API when it started the run; a run started elsewhere (a schedule)
        # gets its row here.
        await session.exec(
            insert.on_conflict_do_update(
                index_elements=["id"],
                set_={
                    "status": insert.excluded.status,
                    "state": insert.excluded.state,
                    "completed_at": insert.excluded.completed_at,
                },
            )
        )
        await session.commit()


async def step_outputs(db: Database, user_id: str, refs: list[str]) -> list[StepOutput]:
    """The user's stored step outputs among ``refs`` (another user's are left out)."""
    async with db.session() as session:
        rows = (await session.exec(select(StepOutput).where(col(StepOutput.id).in_(refs)))).all()
    return [r for r in rows if r.user_id == user_id]


async def get_step_output(db: Database, user_id: str, ref: str) -> StepOutput | None:
    """One of the user's stored step outputs (another user's is the same as a missing one)."""
    return await db.get_owned(StepOutput, user_id, ref)
