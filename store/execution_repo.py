"""Queries of workflow executions: the record a run leaves, and its outputs kept by reference."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from store.db import Database, dialect_insert, utcnow
from store.workflows import ExecutionRecord, StepOutput


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
