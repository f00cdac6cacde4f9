"""End users' connected accounts (app-integrations API) and the OAuth requests that create them.

A connection's tokens (or directly given credentials) are one ciphertext bound to
its app, end user and record. OAuth ``state`` values are stored only as SHA-256
hashes; consuming one is a single conditional UPDATE, so a state works once,
before it expires, and only for the app it was issued for. A state is bound once to
the browser that opened its start URL (the SHA-256 of a nonce kept in that browser's
cookie, ``bind_browser``); the callback must present it.

``provider`` says who granted the tokens: ``vendor`` (the real vendor, or
credentials given directly) or ``sandbox`` (Taskyard's sandbox). It is fixed when
the connection is made, so changing the operator's settings never sends a sandbox
connection's calls to the vendor, nor a vendor connection's to the sandbox.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON, Column, DateTime, Text, update
from sqlmodel import Field, SQLModel, col, select

from store import rotation
from store.db import Database, as_utc, utcnow
from store.errors import StateError
from store.models import new_id
from store.states import state_hash
from store.vault import Vault, associated_data

CONNECTION_PREFIX = "ca_"
Status = Literal["INITIATED", "ACTIVE", "EXPIRED", "FAILED"]
Provider = Literal["vendor", "sandbox"]


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class Connection(SQLModel, table=True):
    __tablename__ = "app_connections"

    id: str = Field(
        default_factory=lambda: new_id(CONNECTION_PREFIX, 12), primary_key=True, max_length=40
    )
    app_id: str = Field(foreign_key="apps.id", index=True, max_length=40)
    end_user_id: str = Field(index=True, max_length=200)
    toolkit: str = Field(max_length=60)
    provider: str = Field(default="vendor", max_length=20)
    status: str = Field(default="INITIATED", max_length=20)
    status_reason: str | None = Field(default=None, max_length=500)
    ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class OAuthRequest(SQLModel, table=True):
    __tablename__ = "oauth_requests"

    state_hash: str = Field(primary_key=True, max_length=64)
    connection_id: str = Field(foreign_key="app_connections.id", index=True, max_length=40)
    app_id: str = Field(max_length=40)
    redirect_url: str = Field(sa_column=Column(Text, nullable=False))
    browser_hash: str | None = Field(default=None, max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = _ts(nullable=False)


def connection_aad(app_id: str, end_user_id: str, connection_id: str) -> bytes:
    return associated_data(f"{app_id}/{end_user_id}", "connection", connection_id)


rotation.register(
    Connection,
    "ciphertext",
    lambda row: connection_aad(row["app_id"], row["end_user_id"], row["id"]),
)


def open_tokens(vault: Vault, row: Connection) -> dict[str, Any]:
    if row.ciphertext is None:
        return {}
    aad = connection_aad(row.app_id, row.end_user_id, row.id)
    return dict(vault.decrypt_json(row.ciphertext, aad))


def _seal(vault: Vault, row: Connection, data: dict[str, Any]) -> str:
    return vault.encrypt_json(data, connection_aad(row.app_id, row.end_user_id, row.id))


async def create_initiated(
    db: Database,
    *,
    app_id: str,
    end_user_id: str,
    toolkit: str,
    scopes: list[str],
    redirect_url: str,
    ttl_seconds: int,
    provider: Provider = "vendor",
) -> tuple[Connection, str]:
    """An INITIATED connection and the single-use ``state`` that completes it."""
    state = secrets.token_urlsafe(32)
    row = Connection(
        app_id=app_id, end_user_id=end_user_id, toolkit=toolkit, scopes=scopes, provider=provider
    )
    request = OAuthRequest(
        state_hash=state_hash(state),
        connection_id=row.id,
        app_id=app_id,
        redirect_url=redirect_url,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    async with db.session() as session:
        session.add(row)
        await session.flush()
        session.add(request)
        await session.commit()
    return row, state


async def create_active(
    db: Database,
    vault: Vault,
    *,
    app_id: str,
    end_user_id: str,
    toolkit: str,
    data: dict[str, Any],
) -> Connection:
    """A connection made from credentials the end user gave directly (API-key toolkits)."""
    row = Connection(app_id=app_id, end_user_id=end_user_id, toolkit=toolkit, status="ACTIVE")
    row.ciphertext = _seal(vault, row, data)
    await db.save(row)
    return row


async def pending_request(db: Database, app_id: str, state: str) -> tuple[OAuthRequest, Connection]:
    """The request a state opens, without using it (a consent page showing it); unknown,
    used, expired or other-app states raise ``StateError``."""
    async with db.session() as session:
        request = await session.get(OAuthRequest, state_hash(state))
        if request is None or request.app_id != app_id:
            raise StateError("unknown state")
        if request.used_at is not None:
            raise StateError("state already used")
        if as_utc(request.expires_at) <= utcnow():  # type: ignore[operator]
            raise StateError("state expired")
        connection = await session.get(Connection, request.connection_id)
    if connection is None:
        raise StateError("the connection was removed")
    return request, connection


async def bind_browser(db: Database, state: str, browser_hash: str) -> bool:
    """Bind an unused request to a browser, once: False if it was bound (or used) already."""
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(OAuthRequest)
            .where(
                col(OAuthRequest.state_hash) == state_hash(state),
                col(OAuthRequest.browser_hash).is_(None),
                col(OAuthRequest.used_at).is_(None),
            )
            .values(browser_hash=browser_hash)
        )
    return bool(result.rowcount == 1)


async def request_for(db: Database, connection_id: str) -> OAuthRequest | None:
    """The OAuth request that created a connection (its state's digest, for the sandbox)."""
    async with db.session() as session:
        rows = await session.exec(
            select(OAuthRequest).where(OAuthRequest.connection_id == connection_id)
        )
        return rows.first()


async def consume_state(db: Database, app_id: str, state: str) -> tuple[OAuthRequest, Connection]:
    """Use a state once: unknown, reused, expired or other-app states raise ``StateError``."""
    digest = state_hash(state)
    now = utcnow()
    async with db.session() as session:
        request = await session.get(OAuthRequest, digest)
        if request is None or request.app_id != app_id:
            raise StateError("unknown state")
        if request.used_at is not None:
            raise StateError("state already used")
        if as_utc(request.expires_at) <= now:  # type: ignore[operator]
            raise StateError("state expired")
        connection = await session.get(Connection, request.connection_id)
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(OAuthRequest)
            .where(col(OAuthRequest.state_hash) == digest, col(OAuthRequest.used_at).is_(None))
            .values(used_at=now)
        )
    if result.rowcount != 1:
        raise StateError("state already used")
    if connection is None:
        raise StateError("the connection was removed")
    return request, connection


async def get(db: Database, connection_id: str) -> Connection | None:
    async with db.session() as session:
        return await session.get(Connection, connection_id)


async def list_for(db: Database, app_id: str, end_user_id: str | None = None) -> list[Connection]:
    query = select(Connection).where(Connection.app_id == app_id)
    if end_user_id is not None:
        query = query.where(Connection.end_user_id == end_user_id)
    async with db.session() as session:
        rows = await session.exec(query.order_by(col(Connection.created_at).desc()))
        return list(rows.all())


async def latest_for(
    db: Database, app_id: str, end_user_id: str, toolkit: str
) -> Connection | None:
    """The connection an execution uses: the newest ACTIVE one, else the newest of any status."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(Connection)
                .where(
                    Connection.app_id == app_id,
                    Connection.end_user_id == end_user_id,
                    Connection.toolkit == toolkit,
                )
                .order_by(col(Connection.created_at).desc())
            )
        ).all()
    active = [r for r in rows if r.status == "ACTIVE"]
    chosen = active or list(rows)
    return chosen[0] if chosen else None


async def activate(
    db: Database,
    vault: Vault,
    connection_id: str,
    tokens: dict[str, Any],
    expires_at: datetime | None,
    scopes: list[str] | None = None,
) -> Connection:
    async with db.session() as session:
        row = await session.get(Connection, connection_id)
        if row is None:
            raise LookupError(connection_id)
        row.ciphertext = _seal(vault, row, tokens)
        row.status, row.status_reason, row.expires_at = "ACTIVE", None, expires_at
        if scopes is not None:
            row.scopes = scopes
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
        return row


async def merge_tokens(
    db: Database,
    vault: Vault,
    connection_id: str,
    values: dict[str, Any],
    expires_at: datetime | None,
) -> None:
    """Merge refreshed token fields into the stored ones, in one transaction."""
    async with db.session() as session:
        row = await session.get(Connection, connection_id, with_for_update=True)
        if row is None:
            raise LookupError(connection_id)
        row.ciphertext = _seal(vault, row, {**open_tokens(vault, row), **values})
        if expires_at is not None:
            row.expires_at = expires_at
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()


async def set_status(
    db: Database, connection_id: str, status: Status, reason: str | None = None
) -> Connection | None:
    async with db.session() as session:
        row = await session.get(Connection, connection_id)
        if row is None:
            return None
        row.status, row.status_reason, row.updated_at = status, reason, utcnow()
        session.add(row)
        await session.commit()
        return row


async def delete(db: Database, row: Connection) -> None:
    async with db.session() as session:
        for request in (
            await session.exec(select(OAuthRequest).where(OAuthRequest.connection_id == row.id))
        ).all():
            await session.delete(request)
        fresh = await session.get(Connection, row.id)
        if fresh is not None:
            await session.delete(fresh)
        await session.commit()
