"""API key lineage in the store: a key minted while its parent is being revoked does not
survive the revocation, on every backend."""

from __future__ import annotations

import asyncio
import secrets
import uuid

from sqlalchemy import inspect

from store import key_repo, user_repo
from store.db import Database
from store.migrate import upgrade


def new_key(user_id: str | None) -> key_repo.NewKey:
    digest = secrets.token_hex(32)
    return key_repo.NewKey(
        user_id=user_id, name="k", key_hash=digest, key_preview=digest[:8], permissions=["*"]
    )


async def test_parent_key_id_column_is_migrated(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            columns, foreign = await conn.run_sync(
                lambda c: (
                    {col["name"] for col in inspect(c).get_columns("api_keys")},
                    inspect(c).get_foreign_keys("api_keys"),
                )
            )
    finally:
        await db.close()
    assert "parent_key_id" in columns
    assert any(fk["constrained_columns"] == ["parent_key_id"] for fk in foreign)


async def test_no_key_minted_during_a_revocation_outlives_it(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    try:
        user = await user_repo.create_user(db, f"r{uuid.uuid4().hex[:10]}@example.com", "")
        for _round in range(8):
            root = await key_repo.create_key(
                db, new_key(user.id), parent_key_id=None, max_active_per_user=10_000
            )
            child = await key_repo.create_key(
                db, new_key(user.id), parent_key_id=root.id, max_active_per_user=10_000
            )

            async def mint_from(parent_id: str) -> None:
                try:
                    await key_repo.create_key(
                        db, new_key(user.id), parent_key_id=parent_id, max_active_per_user=10_000
                    )
                except key_repo.ParentKeyInactive:
                    pass  # refused: the revocation came first

            await asyncio.gather(
                *(mint_from(parent) for parent in (root.id, child.id, root.id, child.id)),
                key_repo.revoke_key(db, root.id, user_id=user.id),
            )
            rows = await key_repo.list_keys(db, user.id)
            survivors = [row.id for row in rows if row.is_active]
            assert survivors == [], f"still active after revoking {root.id}: {survivors}"
    finally:
        await db.close()
