"""The operator's first key: ``TASKYARD_ADMIN_KEY`` if set, else one generated and printed once."""

from __future__ import annotations

from sqlmodel import col, select

from api.auth import generate_key, hash_key, preview
from settings import Settings
from store.db import Database
from store.models import ApiKey

ADMIN_NAME = "bootstrap admin"


async def ensure_admin_key(db: Database, settings: Settings) -> str | None:
    """Returns a newly generated key (to print once), or None."""
    async with db.session() as session:
        if settings.admin_key is not None:
            raw = settings.admin_key.get_secret_value()
            digest = hash_key(raw)
            exists = (await session.exec(select(ApiKey).where(ApiKey.key_hash == digest))).first()
            if exists is None:
                session.add(
                    ApiKey(
                        name=ADMIN_NAME,
                        key_hash=digest,
                        key_preview=preview(raw),
                        permissions=["*"],
                    )
                )
                await session.commit()
            return None
        any_global = (
            await session.exec(
                select(ApiKey).where(col(ApiKey.user_id).is_(None)).where(ApiKey.is_active)
            )
        ).first()
        if any_global is not None:
            return None
        raw = generate_key()
        session.add(
            ApiKey(
                name=ADMIN_NAME, key_hash=hash_key(raw), key_preview=preview(raw), permissions=["*"]
            )
        )
        await session.commit()
        return raw
