"""Users and API keys as operators manage them from the command line (``taskyard users``,
``taskyard keys``): the same rows the users and keys APIs write, without HTTP in between."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from store.db import Database, utcnow
from store.errors import ConflictError, NotFoundError
from store.models import ApiKey, User


class UserExists(ConflictError):
    code = "USER_EXISTS"

    def __init__(self) -> None:
        super().__init__("A user with this email already exists")


class UserNotFound(NotFoundError):
    code = "USER_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("User not found")


class KeyNotFound(NotFoundError):
    code = "API_KEY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("API key not found")


@dataclass(frozen=True)
class NewKey:
    """A key row to insert; the raw key itself is never stored."""

    name: str
    key_hash: str
    key_preview: str
    permissions: list[str]
    user_id: str | None = None
    description: str | None = None
    expires_at: datetime | None = None


async def list_users(db: Database) -> list[User]:
    async with db.session() as session:
        return list((await session.exec(select(User).order_by(col(User.created_at)))).all())


async def create_user(db: Database, email: str, name: str) -> User:
    """``email`` normalized by the caller (lower case); a taken one is UserExists."""
    async with db.session() as session:
        taken = select(func.count()).select_from(User).where(User.email == email)
        if (await session.exec(taken)).one():
            raise UserExists()
        user = User(email=email, name=name)
        session.add(user)
        try:
            await session.commit()
        except IntegrityError as exc:
            raise UserExists() from exc
        return user


async def list_keys(db: Database, user_id: str | None = None) -> list[ApiKey]:
    """Every key, newest first; only ``user_id``'s when given."""
    statement = select(ApiKey).order_by(col(ApiKey.created_at).desc())
    if user_id is not None:
        statement = statement.where(ApiKey.user_id == user_id)
    async with db.session() as session:
        return list((await session.exec(statement)).all())


async def create_key(db: Database, new: NewKey) -> ApiKey:
    async with db.session() as session:
        if new.user_id is not None and await session.get(User, new.user_id) is None:
            raise UserNotFound()
        row = ApiKey(
            user_id=new.user_id,
            name=new.name,
            description=new.description,
            key_hash=new.key_hash,
            key_preview=new.key_preview,
            permissions=new.permissions,
            expires_at=new.expires_at,
        )
        session.add(row)
        await session.commit()
        return row


async def revoke_key(db: Database, key_id: str) -> ApiKey:
    """Revoked at once for every API process that reads the database (a single process's
    key cache forgets it within ``TASKYARD_AUTH_CACHE_SECONDS``)."""
    async with db.session() as session:
        row = await session.get(ApiKey, key_id)
        if row is None:
            raise KeyNotFound()
        row.is_active = False
        row.revoked_at = row.revoked_at or utcnow()
        session.add(row)
        await session.commit()
        return row
