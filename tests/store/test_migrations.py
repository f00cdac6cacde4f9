"""Alembic owns the schema: upgrade from empty, idempotent re-runs, on every backend."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from store.db import Database
from store.migrate import upgrade


async def test_upgrade_creates_schema_and_is_idempotent(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    await asyncio.to_thread(upgrade, database_url)  # a restart runs it again: no-op
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
    finally:
        await db.close()
    assert {"users", "api_keys", "sealed_secrets", "job_notes"} <= tables
    assert version  # at least one head recorded
