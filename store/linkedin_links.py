"""Unipile hosted sign-in links: how the provider, not the user, says which account a user
linked.

With the Unipile provider, after LinkedIn's sign-in Taskyard asks Unipile for a hosted
sign-in link whose ``notify_url`` carries a secret state of ours (kept here only as its
SHA-256) and whose ``name`` is an opaque handle. Unipile calls the notify URL server to
server with the new account's id. The state works once, before it expires, and only for
the user it was issued to; the link Unipile returned is kept encrypted (bound to the user
and the state) until the callback sends the browser to it, so it never enters workflow
history.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy import Column, DateTime, Text, update
from sqlmodel import Field, SQLModel, col, select

from store import rotation
from store.db import Database, as_utc, utcnow
from store.errors import StateError
from store.states import state_hash, usable
from store.vault import Vault, associated_data


class LinkedInAutomationLink(SQLModel, table=True):
    __tablename__ = "linkedin_automation_links"

    state_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    oauth_state_hash: str = Field(index=True, max_length=64)  # the sign-in it continues
    name: str = Field(max_length=64)
    link_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    account_id: str | None = Field(default=None, max_length=100)  # what the provider reported
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


def link_aad(user_id: str, digest: str) -> bytes:
    return associated_data(user_id, "linkedin_automation_link", digest)


rotation.register(
    LinkedInAutomationLink,
    "link_ciphertext",
    lambda row: link_aad(row["user_id"], row["state_hash"]),
    key="state_hash",
)


def new_state() -> tuple[str, str]:
    """A fresh secret state (for the notify URL) and an opaque name (Unipile's ``name``)."""
    return secrets.token_urlsafe(32), "ty_" + secrets.token_urlsafe(18)


async def create(
    db: Database,
    vault: Vault,
    *,
    user_id: str,
    oauth_state_hash: str,
    state: str,
    name: str,
    link_url: str,
    expires_at: datetime,
) -> None:
    digest = state_hash(state)
    row = LinkedInAutomationLink(
        state_hash=digest,
        user_id=user_id,
        oauth_state_hash=oauth_state_hash,
        name=name,
        link_ciphertext=vault.encrypt(link_url.encode(), link_aad(user_id, digest)),
        expires_at=expires_at,
    )
    await db.save(row)


async def pending_link(db: Database, vault: Vault, oauth_state_hash: str) -> str | None:
    """The hosted sign-in URL created for a sign-in, while it can still be used."""
    async with db.session() as session:
        row = (
            await session.exec(
                select(LinkedInAutomationLink)
                .where(LinkedInAutomationLink.oauth_state_hash == oauth_state_hash)
                .order_by(col(LinkedInAutomationLink.created_at).desc())
            )
        ).first()
    if row is None or row.used_at is not None or row.link_ciphertext is None:
        return None
    if as_utc(row.expires_at) <= utcnow():  # type: ignore[operator]
        return None
    return vault.decrypt(row.link_ciphertext, link_aad(row.user_id, row.state_hash)).decode()


async def get(db: Database, digest: str) -> LinkedInAutomationLink | None:
    async with db.session() as session:
        return await session.get(LinkedInAutomationLink, digest)


async def open_state(db: Database, state: str) -> LinkedInAutomationLink:
    """A notify state that can still be used (without using it); else ``StateError``."""
    return usable(await get(db, state_hash(state)))


async def consume(db: Database, state: str, name: str, account_id: str) -> LinkedInAutomationLink:
    """Use a notify state once, recording the account the provider reported: unknown,
    used or expired states, or a ``name`` other than the one issued, raise ``StateError``."""
    digest = state_hash(state)
    row = await get(db, digest)
    if row is None or not hmac.compare_digest(row.name.encode(), name.encode()):
        raise StateError("unknown state")
    now = utcnow()
    usable(row, now)
    async with db.engine.begin() as conn:
        result = await conn.execute(
            update(LinkedInAutomationLink)
            .where(
                col(LinkedInAutomationLink.state_hash) == digest,
                col(LinkedInAutomationLink.used_at).is_(None),
            )
            .values(used_at=now, account_id=account_id, link_ciphertext=None)
        )
    if result.rowcount != 1:
        raise StateError("this state was already used")
    row.used_at, row.account_id, row.link_ciphertext = now, account_id, None
    return row
