"""Queries of users: creation with a unique email, lookup by id."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from store.db import Database
from store.errors import ConflictError
from store.models import User


class UserExists(ConflictError):
    code = "USER_EXISTS"

    def __init__(self) -> None:
        super().__init__("A user with this email already exists")


async def create_user(db: Database, email: str, name: str) -> User:
    """A new user; ``email`` is stored as given (callers lowercase it). UserExists if taken."""
    async with db.session() as session:
        taken = select(func.count()).select_from(User).where(User.email == email)
        if (await session.exec(taken)).one():
            raise UserExists()
        user = User(email=email, name=name)
        session.add(user)
        try:
            await session.commit()
        except IntegrityError as exc:  # a concurrent insert of the same email won
            raise UserExists() from exc
    return user


async def get_user(db: Database, user_id: str) -> User | None:
    async with db.session() as session:
        return await session.get(User, user_id)


async def list_users(db: Database) -> list[User]:
    """Every user, oldest first (the operators' command line)."""
    async with db.session() as session:
        return list((await session.exec(select(User).order_by(col(User.created_at)))).all())
