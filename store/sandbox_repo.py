"""What the app-integrations sandbox vendors were sent: the outbox and the post recorder.

One row per vendor object a sandbox connection made (a Gmail message, a Slack
post or reaction, a Discord message, a calendar event), keyed by the connection,
the object's kind and its vendor-style id, with the vendor-shaped JSON. Rows
outlive their connection (no foreign key): an app can still list what a
disconnected end user sent while trying things.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel, col, select

from store.db import Database, utcnow
from store.models import new_id


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class SandboxRecord(SQLModel, table=True):
    __tablename__ = "integration_sandbox_records"
    __table_args__ = (
        UniqueConstraint("connection_id", "kind", "remote_id", name="uq_sandbox_records_object"),
        Index("ix_sandbox_records_app_created", "app_id", "created_at"),
    )

    id: str = Field(default_factory=lambda: new_id("sbx_", 10), primary_key=True, max_length=40)
    app_id: str = Field(max_length=40)
    end_user_id: str = Field(max_length=200)
    connection_id: str = Field(max_length=40)
    toolkit: str = Field(max_length=60)
    kind: str = Field(max_length=60)
    remote_id: str = Field(max_length=300)
    execution_id: str | None = Field(default=None, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


async def add(
    db: Database,
    *,
    app_id: str,
    end_user_id: str,
    connection_id: str,
    toolkit: str,
    kind: str,
    remote_id: str,
    data: dict[str, Any],
    execution_id: str | None = None,
) -> SandboxRecord:
    row = SandboxRecord(
        app_id=app_id,
        end_user_id=end_user_id,
        connection_id=connection_id,
        toolkit=toolkit,
        kind=kind,
        remote_id=remote_id,
        data=data,
        execution_id=execution_id,
    )
    return await db.save(row)


def _object(connection_id: str, kind: str, remote_id: str) -> Any:
    return select(SandboxRecord).where(
        SandboxRecord.connection_id == connection_id,
        SandboxRecord.kind == kind,
        SandboxRecord.remote_id == remote_id,
    )


async def get(db: Database, connection_id: str, kind: str, remote_id: str) -> SandboxRecord | None:
    async with db.session() as session:
        return (await session.exec(_object(connection_id, kind, remote_id))).first()


async def put(
    db: Database, connection_id: str, kind: str, remote_id: str, data: dict[str, Any]
) -> bool:
    """Replace an object's data (an edited message, a cancelled event); False if absent."""
    async with db.session() as session:
        row = (await session.exec(_object(connection_id, kind, remote_id))).first()
        if row is None:
            return False
        row.data, row.updated_at = data, utcnow()
        session.add(row)
        await session.commit()
        return True


async def items(db: Database, connection_id: str, kind: str) -> list[SandboxRecord]:
    """A connection's objects of one kind, oldest first."""
    async with db.session() as session:
        rows = await session.exec(
            select(SandboxRecord)
            .where(SandboxRecord.connection_id == connection_id, SandboxRecord.kind == kind)
            .order_by(col(SandboxRecord.created_at), col(SandboxRecord.id))
        )
        return list(rows.all())


async def list_for_app(
    db: Database,
    app_id: str,
    *,
    end_user_id: str | None = None,
    toolkit: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[SandboxRecord]:
    """An app's sandbox objects, newest first, optionally one end user's, toolkit's or kind's."""
    query = select(SandboxRecord).where(SandboxRecord.app_id == app_id)
    if end_user_id is not None:
        query = query.where(SandboxRecord.end_user_id == end_user_id)
    if toolkit is not None:
        query = query.where(SandboxRecord.toolkit == toolkit)
    if kind is not None:
        query = query.where(SandboxRecord.kind == kind)
    query = query.order_by(col(SandboxRecord.created_at).desc(), col(SandboxRecord.id).desc())
    async with db.session() as session:
        return list((await session.exec(query.limit(limit))).all())
