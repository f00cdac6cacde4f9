"""Queries of API keys: lookup by hash, minting under a parent key, listing, revocation.

Two invariants live here because they need the parent row in the same transaction as the
new key: a minted key never outlives the key that minted it, and revoking a key revokes
every key minted from it, transitively (``parent_key_id`` is the link).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select, update

from store.db import Database, as_utc, utcnow
from store.errors import ConflictError, InvalidError, NotFoundError
from store.models import ApiKey, User


class KeyNotFound(NotFoundError):
    code = "API_KEY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("API key not found")


class UserNotFound(NotFoundError):
    code = "USER_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("User not found")


class ParentKeyInactive(ConflictError):
    """The key minting was revoked or expired between authentication and the insert."""

    code = "INVALID_API_KEY"

    def __init__(self) -> None:
        super().__init__("The API key making this call has been revoked or has expired")


class ExpiresAfterParent(InvalidError):
    code = "EXPIRES_AFTER_PARENT"

    def __init__(self, parent_expires_at: datetime) -> None:
        when = parent_expires_at.isoformat().replace("+00:00", "Z")
        super().__init__(
            f"expires_at must not be later than the expiry of the key creating it ({when})",
            field="expires_at",
            details={"maxExpiresAt": when},
        )


class KeyQuotaExceeded(ConflictError):
    code = "QUOTA_EXCEEDED"

    def __init__(self, limit: int, active: int) -> None:
        super().__init__(
            f"Active API key limit reached: a user may hold at most {limit} active keys "
            f"and this user has {active}; revoke one first",
            details={"limit": limit, "active": active},
        )
        self.limit = limit
        self.active = active


@dataclass(frozen=True)
class NewKey:
    """What a new key row holds; the raw key itself is never stored."""

    user_id: str | None
    name: str
    key_hash: str
    key_preview: str
    permissions: list[str]
    description: str | None = None
    expires_at: datetime | None = None


def _expired(row: ApiKey, now: datetime) -> bool:
    expires = as_utc(row.expires_at)
    return expires is not None and expires <= now


async def find_by_hash(db: Database, key_hash: str, *, touch_after: timedelta) -> ApiKey | None:
    """The key with this hash, active or not. A usable key's ``last_used`` is refreshed when
    older than ``touch_after`` (coarse, so a busy key is not one write per request)."""
    async with db.session() as session:
        row = (await session.exec(select(ApiKey).where(ApiKey.key_hash == key_hash))).first()
        if row is None or not row.is_active:
            return row
        now = utcnow()
        last = as_utc(row.last_used)
        if not _expired(row, now) and (last is None or now - last > touch_after):
            row.last_used = now
            session.add(row)
            await session.commit()
        return row


async def create_key(
    db: Database,
    new: NewKey,
    *,
    parent_key_id: str | None,
    max_active_per_user: int | None = None,
) -> ApiKey:
    """Insert a key minted by ``parent_key_id`` (None: bootstrap or command line).

    Without ``expires_at`` the key takes its parent's expiry; a later one is refused
    (ExpiresAfterParent). A user key past ``max_active_per_user`` unexpired active keys of
    its user is refused (KeyQuotaExceeded); an unknown user is UserNotFound.
    """
    expires_at = as_utc(new.expires_at)
    row = ApiKey(
        user_id=new.user_id,
        name=new.name,
        description=new.description,
        key_hash=new.key_hash,
        key_preview=new.key_preview,
        permissions=new.permissions,
        # SQLite keeps the wall clock without its offset: store UTC so it reads back right.
        expires_at=expires_at.astimezone(UTC) if expires_at else None,
        parent_key_id=parent_key_id,
    )
    async with db.session() as session:
        if new.user_id is not None and await session.get(User, new.user_id) is None:
            raise UserNotFound()
        session.add(row)
        # Write before reading the parent: the insert opens the write transaction (SQLite's
        # write lock), and the parent is read locked (PostgreSQL), so a revocation of the
        # parent running now either finds this key among the children or is seen here.
        await session.flush()
        now = utcnow()
        if parent_key_id is not None:
            parent = await session.get(
                ApiKey, parent_key_id, with_for_update={"read": True}, populate_existing=True
            )
            if parent is None or not parent.is_active or _expired(parent, now):
                raise ParentKeyInactive()
            ceiling = as_utc(parent.expires_at)
            if ceiling is not None:
                if row.expires_at is None:
                    row.expires_at = ceiling
                elif row.expires_at > ceiling:
                    raise ExpiresAfterParent(ceiling)
        if new.user_id is not None and max_active_per_user is not None:
            count = (
                select(func.count())
                .select_from(ApiKey)
                .where(
                    ApiKey.user_id == new.user_id,
                    col(ApiKey.is_active).is_(True),
                    or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
                )
            )
            active = (await session.exec(count)).one()  # this new key included
            if active > max_active_per_user:
                raise KeyQuotaExceeded(max_active_per_user, active - 1)
        await session.commit()
    return row


async def list_keys(db: Database, user_id: str | None) -> list[ApiKey]:
    """Every key, newest first; only ``user_id``'s when given."""
    statement = select(ApiKey).order_by(col(ApiKey.created_at).desc())
    if user_id is not None:
        statement = statement.where(ApiKey.user_id == user_id)
    async with db.session() as session:
        return list((await session.exec(statement)).all())


async def revoke_key(db: Database, key_id: str, *, user_id: str | None) -> list[str]:
    """Revoke the key and every key minted from it for the same owner, transitively;
    returns all their ids.

    Keys a global key minted for users are their users' own (an operator provisions every
    user's first key with the admin key; revoking that key must not cut every user off), so
    they stay: they still expire no later than the key that minted them. With ``user_id``
    only that user's key can be named (another's is KeyNotFound). Revoking a revoked key
    again is fine (its revocation time is kept).
    """
    async with db.session() as session:
        row = await session.get(ApiKey, key_id)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise KeyNotFound()
        now = utcnow()
        seen = {key_id}
        level = [key_id]
        while level:
            # Revoke a level before reading its children: a key being minted from one of
            # them has either committed (and is read below) or waits for this transaction
            # and then finds its parent revoked.
            await session.exec(
                update(ApiKey)
                .where(col(ApiKey.id).in_(level), col(ApiKey.is_active).is_(True))
                .values(is_active=False, revoked_at=now)
            )
            owner = (
                col(ApiKey.user_id).is_(None)
                if row.user_id is None
                else col(ApiKey.user_id) == row.user_id
            )
            children = await session.exec(
                select(ApiKey.id).where(col(ApiKey.parent_key_id).in_(level), owner)
            )
            level = [child for child in children.all() if child not in seen]
            seen.update(level)
        await session.commit()
    return [key_id, *sorted(seen - {key_id})]


async def any_global_key(db: Database) -> bool:
    """Whether the database has ever held a global key (revoked ones count)."""
    async with db.session() as session:
        found = await session.exec(select(ApiKey.id).where(col(ApiKey.user_id).is_(None)).limit(1))
        return found.first() is not None


async def ensure_key(db: Database, new: NewKey) -> bool:
    """Insert the key unless its hash is known (active or revoked); True if inserted."""
    async with db.session() as session:
        known = await session.exec(select(ApiKey.id).where(ApiKey.key_hash == new.key_hash))
        if known.first() is not None:
            return False
        session.add(
            ApiKey(
                user_id=new.user_id,
                name=new.name,
                description=new.description,
                key_hash=new.key_hash,
                key_preview=new.key_preview,
                permissions=new.permissions,
                expires_at=new.expires_at,
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # another process inserted it first
            return False
    return True
