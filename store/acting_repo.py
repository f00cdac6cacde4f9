"""The one query of who an /api/v1 call acts for: does the user a global key names exist."""

from __future__ import annotations

from store.db import Database
from store.models import User


async def user_exists(db: Database, user_id: str) -> bool:
    async with db.session() as session:
        return await session.get(User, user_id) is not None
