"""LinkedIn accounts (one per user) and the OAuth states that connect them.

The member's access token is one vault ciphertext bound to the user and the
account row. OAuth ``state`` values are kept only as SHA-256 hashes; consuming
one is a single conditional UPDATE, so a state works once and only before it
expires. A state is bound to the browser that opened its start URL: the hash of
a nonce kept in that browser's cookie is set once (``bind_browser``) and the
callback must present it. While the connect workflow runs, the authorization
code waits on the state row, encrypted, and is erased once the connection is
made, so the code never enters workflow history.

The automation provider's account id (Unipile's) is unique across users: one
provider account is never linked to two users (``AUTOMATION_ACCOUNT_IN_USE``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from store import rotation
from store.db import Database, utcnow
from store.errors import ConflictError, StateError
from store.models import User, new_id
from store.states import state_hash, usable
from store.vault import Vault, associated_data


def _ts(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class LinkedInAccount(SQLModel, table=True):
    """A user's LinkedIn account; kept after a disconnect so caps and settings survive."""

    __tablename__ = "linkedin_accounts"

    id: str = Field(default_factory=lambda: new_id("lia_", 10), primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", unique=True, index=True, max_length=40)
    status: str = Field(default="disconnected", max_length=20)  # connected | disconnected
    provider: str = Field(default="sandbox", max_length=20)
    member_id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    profile_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    picture_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    connection_count: int | None = None
    automation_account_id: str | None = Field(default=None, max_length=100, unique=True)
    token_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    token_expires_at: datetime | None = _ts(nullable=True)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    connected_at: datetime | None = _ts(nullable=True)
    disconnected_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class LinkedInOAuthState(SQLModel, table=True):
    __tablename__ = "linkedin_oauth_states"

    state_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    provider: str = Field(max_length=20)  # sandbox | linkedin: who signs the member in
    redirect_uri: str = Field(sa_column=Column(Text, nullable=False))
    return_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    automation_account_id: str | None = Field(default=None, max_length=100)
    code_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # SHA-256 of the nonce in the cookie of the browser that opened the start URL.
    browser_hash: str | None = Field(default=None, max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class AutomationAccountInUse(ConflictError):
    code = "AUTOMATION_ACCOUNT_IN_USE"

    def __init__(self) -> None:
        super().__init__("This automation provider account is linked to another user")


def token_aad(user_id: str, account_id: str) -> bytes:
    return associated_data(user_id, "linkedin_token", account_id)


def code_aad(user_id: str, state_hash: str) -> bytes:
    return associated_data(user_id, "linkedin_oauth_code", state_hash)


rotation.register(
    LinkedInAccount, "token_ciphertext", lambda row: token_aad(row["user_id"], row["id"])
)
rotation.register(
    LinkedInOAuthState,
    "code_ciphertext",
    lambda row: code_aad(row["user_id"], row["state_hash"]),
    key="state_hash",
)


async def user_exists(db: Database, user_id: str) -> bool:
    """Does the user the LinkedIn routes act for exist?"""
    async with db.session() as session:
        return await session.get(User, user_id) is not None


async def get_account(db: Database, user_id: str) -> LinkedInAccount | None:
    async with db.session() as session:
        return (
            await session.exec(select(LinkedInAccount).where(LinkedInAccount.user_id == user_id))
        ).first()


async def ensure_account(db: Database, user_id: str) -> LinkedInAccount:
    """The user's account row, created (disconnected) on first use."""
    found = await get_account(db, user_id)
    if found is not None:
        return found
    row = LinkedInAccount(user_id=user_id)
    try:
        await db.save(row)
    except IntegrityError:
        found = await get_account(db, user_id)  # a concurrent request created it
        if found is None:
            raise
        return found
    return row


async def create_state(
    db: Database,
    *,
    user_id: str,
    provider: str,
    redirect_uri: str,
    return_url: str | None,
    scopes: list[str],
    automation_account_id: str | None,
    ttl_seconds: int,
) -> tuple[str, datetime]:
    """A fresh single-use state and when it stops working."""
    state = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    row = LinkedInOAuthState(
        state_hash=state_hash(state),
        user_id=user_id,
        provider=provider,
        redirect_uri=redirect_uri,
        return_url=return_url,
        scopes=scopes,
        automation_account_id=automation_account_id,
        expires_at=expires_at,
    )
    await db.save(row)
    return state, expires_at


async def peek_state(db: Database, state: str) -> LinkedInOAuthState | None:
    async with db.session() as session:
        return await session.get(LinkedInOAuthState, state_hash(state))


async def open_state(db: Database, state: str) -> LinkedInOAuthState:
    """A state that can still be used (without using it); else ``StateError``."""
    return usable(await peek_state(db, state))


async def bind_browser(db: Database, digest: str, browser_hash: str) -> bool:
    """Bind an unused state to a browser, once: False if it was bound (or used) already."""
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(LinkedInOAuthState)
            .where(
                col(LinkedInOAuthState.state_hash) == digest,
                col(LinkedInOAuthState.browser_hash).is_(None),
                col(LinkedInOAuthState.used_at).is_(None),
            )
            .values(browser_hash=browser_hash)
        )
    return bool(result.rowcount == 1)


async def automation_owner(db: Database, automation_account_id: str) -> str | None:
    """The user a provider account is linked to, if any."""
    async with db.session() as session:
        row = (
            await session.exec(
                select(LinkedInAccount).where(
                    LinkedInAccount.automation_account_id == automation_account_id
                )
            )
        ).first()
        return row.user_id if row is not None else None


async def consume_state(
    db: Database, vault: Vault, state: str, code: str | None
) -> LinkedInOAuthState:
    """Use a state once, keeping ``code`` encrypted on it for the connect workflow."""
    digest = state_hash(state)
    now = utcnow()
    row = usable(await peek_state(db, state), now)
    sealed = vault.encrypt(code.encode(), code_aad(row.user_id, digest)) if code else None
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(LinkedInOAuthState)
            .where(
                col(LinkedInOAuthState.state_hash) == digest,
                col(LinkedInOAuthState.used_at).is_(None),
            )
            .values(used_at=now, code_ciphertext=sealed)
        )
    if result.rowcount != 1:
        raise StateError("this state was already used")
    row.used_at, row.code_ciphertext = now, sealed
    return row


async def open_code(db: Database, vault: Vault, digest: str) -> tuple[LinkedInOAuthState, str]:
    """The state row and its decrypted code (inside the connect activity only)."""
    async with db.session() as session:
        row = await session.get(LinkedInOAuthState, digest)
    if row is None or row.code_ciphertext is None:
        raise StateError("no pending authorization code for this state")
    return row, vault.decrypt(row.code_ciphertext, code_aad(row.user_id, digest)).decode()


async def mark_connected(
    db: Database,
    vault: Vault,
    *,
    user_id: str,
    state_digest: str,
    provider: str,
    token: dict[str, Any],
    token_expires_at: datetime | None,
    scopes: list[str],
    profile: dict[str, Any],
    automation_account_id: str | None,
) -> LinkedInAccount:
    """Store the token encrypted, the member's profile, and mark the account connected."""
    account = await ensure_account(db, user_id)
    now = utcnow()
    async with db.session() as session:
        row = await session.get(LinkedInAccount, account.id)
        assert row is not None
        row.token_ciphertext = vault.encrypt_json(token, token_aad(user_id, row.id))
        row.status, row.provider, row.scopes = "connected", provider, scopes
        row.token_expires_at = token_expires_at
        row.member_id = profile.get("member_id")
        row.name = profile.get("name")
        row.email = profile.get("email")
        row.profile_url = profile.get("profile_url")
        row.picture_url = profile.get("picture_url")
        row.connection_count = profile.get("connection_count")
        row.automation_account_id = automation_account_id
        row.connected_at, row.disconnected_at, row.updated_at = now, None, now
        session.add(row)
        try:
            await session.commit()
        except IntegrityError as exc:
            raise AutomationAccountInUse() from exc
    async with db.engine.begin() as conn:
        await conn.execute(
            update(LinkedInOAuthState)
            .where(col(LinkedInOAuthState.state_hash) == state_digest)
            .values(code_ciphertext=None)
        )
    return row


async def forget_code(db: Database, state_digest: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            update(LinkedInOAuthState)
            .where(col(LinkedInOAuthState.state_hash) == state_digest)
            .values(code_ciphertext=None)
        )


async def link_automation_account(
    db: Database, user_id: str, automation_account_id: str
) -> LinkedInAccount:
    """Link the provider account the provider reported to the user's connected account.

    ``AutomationAccountInUse`` if another user holds it; ``ConflictError`` when the user's
    LinkedIn account is not connected (any more)."""
    async with db.session() as session:
        row = (
            await session.exec(select(LinkedInAccount).where(LinkedInAccount.user_id == user_id))
        ).first()
        if row is None or row.status != "connected":
            raise ConflictError("LinkedIn is not connected", code="LINKEDIN_NOT_CONNECTED")
        row.automation_account_id, row.updated_at = automation_account_id, utcnow()
        session.add(row)
        try:
            await session.commit()
        except IntegrityError as exc:
            raise AutomationAccountInUse() from exc
        return row


async def save_automation_profile(
    db: Database, user_id: str, automation_account_id: str, profile: dict[str, Any]
) -> bool:
    """Profile URL and connection count read from the provider account, if the user's
    account is still linked to it."""
    values = {k: profile[k] for k in ("profile_url", "connection_count") if profile.get(k)}
    if not values:
        return False
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(LinkedInAccount)
            .where(
                col(LinkedInAccount.user_id) == user_id,
                col(LinkedInAccount.automation_account_id) == automation_account_id,
            )
            .values(**values, updated_at=utcnow())
        )
    return bool(result.rowcount == 1)


async def disconnect(db: Database, user_id: str) -> LinkedInAccount | None:
    """Drop the token and the provider account and mark the account disconnected; the row
    and its settings stay."""
    async with db.session() as session:
        row = (
            await session.exec(select(LinkedInAccount).where(LinkedInAccount.user_id == user_id))
        ).first()
        if row is None or row.status != "connected":
            return None
        now = utcnow()
        row.status, row.token_ciphertext, row.token_expires_at = "disconnected", None, None
        # The provider account is free again (an operator may link it to someone else).
        row.automation_account_id = None
        row.disconnected_at, row.updated_at = now, now
        session.add(row)
        await session.commit()
        return row


async def save_settings(db: Database, user_id: str, settings: dict[str, Any]) -> LinkedInAccount:
    account = await ensure_account(db, user_id)
    async with db.session() as session:
        row = await session.get(LinkedInAccount, account.id)
        assert row is not None
        row.settings, row.updated_at = settings, utcnow()
        session.add(row)
        await session.commit()
        return row


def open_token(vault: Vault, account: LinkedInAccount) -> dict[str, Any]:
    if account.token_ciphertext is None:
        return {}
    return dict(
        vault.decrypt_json(account.token_ciphertext, token_aad(account.user_id, account.id))
    )


async def account_by_id(db: Database, account_id: str) -> LinkedInAccount | None:
    async with db.session() as session:
        return await session.get(LinkedInAccount, account_id)


async def accounts_by_automation_id(db: Database, automation_id: str) -> list[LinkedInAccount]:
    """The connected accounts linked to a provider account (Unipile ``acc_…``), for its
    webhooks (one, unless the provider account was linked twice)."""
    async with db.session() as session:
        rows = await session.exec(
            select(LinkedInAccount).where(
                LinkedInAccount.automation_account_id == automation_id,
                LinkedInAccount.status == "connected",
            )
        )
        return list(rows.all())
