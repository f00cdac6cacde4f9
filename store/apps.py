"""Apps (app-integrations API): a user's application, its end-user JWT secret and enabled toolkits.

The JWT signing secret must be recoverable to verify HS256 tokens, so it is
encrypted (``associated_data(user_id, "app_secret", app id)``), never hashed,
and shown once when the app is created.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel, col, select

from store import rotation
from store.db import Database, utcnow
from store.models import new_id
from store.vault import Vault, associated_data


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class App(SQLModel, table=True):
    __tablename__ = "apps"

    id: str = Field(default_factory=lambda: new_id("app_", 10), primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    redirect_urls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret_ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class AppToolkit(SQLModel, table=True):
    """A toolkit an app enabled (``POST /v1/{appId}/integrations/configure``)."""

    __tablename__ = "app_toolkits"

    app_id: str = Field(foreign_key="apps.id", primary_key=True, max_length=40)
    toolkit: str = Field(primary_key=True, max_length=60)
    display_name: str = Field(max_length=200)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)


def secret_aad(user_id: str, app_id: str) -> bytes:
    return associated_data(user_id, "app_secret", app_id)


rotation.register(App, "secret_ciphertext", lambda row: secret_aad(row["user_id"], row["id"]))


def new_secret() -> str:
    return "ays_" + secrets.token_urlsafe(32)


async def create(
    db: Database, vault: Vault, *, user_id: str, name: str, redirect_urls: list[str]
) -> tuple[App, str]:
    """A new app and its JWT signing secret (the only time the secret leaves the vault)."""
    secret = new_secret()
    row = App(user_id=user_id, name=name, redirect_urls=redirect_urls, secret_ciphertext="")
    row.secret_ciphertext = vault.encrypt(secret.encode(), secret_aad(user_id, row.id))
    await db.save(row)
    return row, secret


def signing_secret(vault: Vault, app: App) -> bytes:
    return vault.decrypt(app.secret_ciphertext, secret_aad(app.user_id, app.id))


async def get(db: Database, app_id: str) -> App | None:
    async with db.session() as session:
        return await session.get(App, app_id)


async def list_owned(db: Database, user_id: str) -> list[App]:
    return await db.list_owned(App, user_id)


async def update(
    db: Database, app: App, *, name: str | None, redirect_urls: list[str] | None
) -> App:
    async with db.session() as session:
        fresh = await session.get(App, app.id)
        if fresh is None:
            raise LookupError(app.id)
        if name is not None:
            fresh.name = name
        if redirect_urls is not None:
            fresh.redirect_urls = redirect_urls
        fresh.updated_at = utcnow()
        session.add(fresh)
        await session.commit()
        return fresh


async def rotate_secret(db: Database, vault: Vault, app: App) -> str:
    """A new signing secret; tokens signed with the old one stop working at once."""
    secret = new_secret()
    async with db.session() as session:
        fresh = await session.get(App, app.id)
        if fresh is None:
            raise LookupError(app.id)
        aad = secret_aad(fresh.user_id, fresh.id)
        fresh.secret_ciphertext = vault.encrypt(secret.encode(), aad)
        fresh.updated_at = utcnow()
        session.add(fresh)
        await session.commit()
    return secret


async def toolkits(db: Database, app_id: str) -> list[AppToolkit]:
    async with db.session() as session:
        rows = await session.exec(
            select(AppToolkit).where(AppToolkit.app_id == app_id).order_by(col(AppToolkit.toolkit))
        )
        return list(rows.all())


async def toolkit(db: Database, app_id: str, name: str) -> AppToolkit | None:
    async with db.session() as session:
        return await session.get(AppToolkit, (app_id, name))


async def enable(
    db: Database, app_id: str, name: str, *, display_name: str, scopes: list[str]
) -> tuple[AppToolkit, bool]:
    """Enable (or reconfigure) a toolkit; the flag says whether it was newly enabled."""
    async with db.session() as session:
        row = await session.get(AppToolkit, (app_id, name))
        created = row is None
        if row is None:
            row = AppToolkit(app_id=app_id, toolkit=name, display_name=display_name, scopes=scopes)
        else:
            row.display_name, row.scopes = display_name, scopes
        session.add(row)
        await session.commit()
        return row, created


async def disable(db: Database, app_id: str, name: str) -> bool:
    async with db.session() as session:
        row = await session.get(AppToolkit, (app_id, name))
        if row is None:
            return False
        await session.delete(row)
        await session.commit()
        return True
