"""The store a sandbox connection's connector writes to: the outbox and post recorder.

A tool activity run with a sandbox connection hands its connector a
``SandboxRecorder`` (the ``SandboxStore`` the sandbox vendors keep what they
were sent in), bound to that connection — so one end user's sandbox never sees
another's — and to the execution that wrote each record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SandboxItem
from store import sandbox_repo
from store.connections import Connection
from store.db import Database, as_utc


def _item(row: sandbox_repo.SandboxRecord) -> SandboxItem:
    created = as_utc(row.created_at)
    return SandboxItem(
        remote_id=row.remote_id,
        data=dict(row.data),
        created_at=created.timestamp() if created else 0.0,
    )


class SandboxRecorder:
    """``connectors.base.SandboxStore`` over ``store.sandbox_repo``, for one connection."""

    def __init__(self, db: Database, connection: Connection, execution_id: str | None) -> None:
        self.db = db
        self.connection = connection
        self.execution_id = execution_id

    async def add(self, kind: str, remote_id: str, data: Mapping[str, Any]) -> None:
        c = self.connection
        await sandbox_repo.add(
            self.db,
            app_id=c.app_id,
            end_user_id=c.end_user_id,
            connection_id=c.id,
            toolkit=c.toolkit,
            kind=kind,
            remote_id=remote_id,
            data=dict(data),
            execution_id=self.execution_id,
        )

    async def get(self, kind: str, remote_id: str) -> SandboxItem | None:
        row = await sandbox_repo.get(self.db, self.connection.id, kind, remote_id)
        return _item(row) if row is not None else None

    async def put(self, kind: str, remote_id: str, data: Mapping[str, Any]) -> bool:
        return await sandbox_repo.put(self.db, self.connection.id, kind, remote_id, dict(data))

    async def items(self, kind: str) -> list[SandboxItem]:
        return [_item(r) for r in await sandbox_repo.items(self.db, self.connection.id, kind)]
