"""Queries of sealed secrets: request secrets and authorization codes kept out of workflow
history, stored encrypted until an activity opens them."""

from __future__ import annotations

from store.db import Database
from store.models import SealedSecret


async def get_sealed(db: Database, user_id: str, secret_id: str) -> SealedSecret | None:
    """The user's sealed secret (another user's is the same as a missing one)."""
    return await db.get_owned(SealedSecret, user_id, secret_id)


async def forget_sealed(db: Database, secret_id: str) -> None:
    """Delete a sealed secret that has served its single use; a missing one is fine."""
    async with db.session() as session:
        sealed = await session.get(SealedSecret, secret_id)
        if sealed is not None:
            await session.delete(sealed)
            await session.commit()
