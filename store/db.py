"""Database engines: async for the API and activities, sync URLs for Alembic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")


def async_url(url: str) -> str:
    """The async-driver form of a database URL."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def sync_url(url: str) -> str:
    """The sync-driver form of a database URL (Alembic)."""
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.removeprefix("sqlite+aiosqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    ensure_sqlite_dir(url)
    aurl = async_url(url)
    if aurl.startswith("sqlite"):
        engine = create_async_engine(aurl, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(aurl, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return engine


class Database:
    """An engine plus a session factory; one per process, handed out via lifespan state."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def get_owned(self, model: type[T], user_id: str, row_id: str) -> T | None:
        """The row if ``user_id`` owns it; another user's row is the same as a missing one."""
        async with self.session() as session:
            row = await session.get(model, row_id)
        return row if row is not None and getattr(row, "user_id", None) == user_id else None

    async def list_owned(self, model: type[T], user_id: str) -> list[T]:
        """Every row ``user_id`` owns, newest first."""
        async with self.session() as session:
            rows = await session.exec(
                select(model)
                .where(model.user_id == user_id)  # type: ignore[attr-defined]
                .order_by(col(model.created_at).desc())  # type: ignore[attr-defined]
            )
            return list(rows.all())

    async def save(self, row: T) -> T:
        """Insert or update one row in its own transaction."""
        async with self.session() as session:
            session.add(row)
            await session.commit()
        return row

    async def ping(self) -> None:
        """One round trip to the database; raises when it cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def dialect_insert(session: Any, table: type[SQLModel]) -> Any:
    """``INSERT`` of the session's dialect (SQLite or PostgreSQL), which has ``ON CONFLICT``."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    factory = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return factory(table.__table__)  # type: ignore[attr-defined]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
