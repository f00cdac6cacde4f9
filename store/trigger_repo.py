"""Inbound trigger URLs of workflows: one secret per workflow, kept only as its SHA-256.

A trigger is ``POST /api/v1/workflows/{id}/trigger/{token}``; the token is shown once when
made (or rotated) and compared by hash. The row names the workflow without a foreign key,
so deleting a workflow is never blocked by its trigger (a trigger of a workflow that is
gone simply finds nothing to run).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, delete
from sqlmodel import Field, SQLModel, col

from store import models as _models  # noqa: F401 (the users table the foreign key names)
from store.db import Database, utcnow


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class WorkflowTrigger(SQLModel, table=True):
    __tablename__ = "workflow_triggers"

    workflow_id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    token_hash: str = Field(max_length=64)
    preview: str = Field(max_length=20)
    created_at: datetime = _ts()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def save_trigger(db: Database, user_id: str, workflow_id: str, token: str) -> WorkflowTrigger:
    """Make (or rotate: the old token stops working at once) the workflow's trigger."""
    async with db.session() as session:
        row = await session.get(WorkflowTrigger, workflow_id)
        if row is None:
            row = WorkflowTrigger(
                workflow_id=workflow_id, user_id=user_id, token_hash="", preview=""
            )
        row.user_id, row.token_hash = user_id, token_hash(token)
        row.preview, row.created_at = token[:8] + "…", utcnow()
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


async def get_trigger(db: Database, user_id: str, workflow_id: str) -> WorkflowTrigger | None:
    row = await db.get_owned(WorkflowTrigger, user_id, workflow_id)
    return row


async def match_trigger(db: Database, workflow_id: str, token: str) -> WorkflowTrigger | None:
    """The trigger if ``token`` is its secret (compared in constant time), else None."""
    async with db.session() as session:
        row = await session.get(WorkflowTrigger, workflow_id)
    if row is None or not hmac.compare_digest(row.token_hash, token_hash(token)):
        return None
    return row


async def delete_trigger(db: Database, user_id: str, workflow_id: str) -> bool:
    async with db.engine.begin() as conn:
        result = await conn.execute(
            delete(WorkflowTrigger).where(
                col(WorkflowTrigger.workflow_id) == workflow_id,
                col(WorkflowTrigger.user_id) == user_id,
            )
        )
    return bool(result.rowcount)
