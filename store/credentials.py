"""Credentials and connector instances (workflows API), and their persistence.

A credential's ``data`` is one AES-256-GCM ciphertext bound to its owner and
record (``associated_data(user_id, "credential", id)``); what the API shows is a
masked ``previews`` map computed when the data is written, so listing never
decrypts anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel, select

from store import rotation
from store.db import Database, utcnow
from store.errors import ConflictError, NotFoundError
from store.models import new_id
from store.vault import Vault, associated_data

CREDENTIAL_PREFIX = "cred_"


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class Credential(SQLModel, table=True):
    __tablename__ = "credentials"

    id: str = Field(
        default_factory=lambda: new_id(CREDENTIAL_PREFIX, 12), primary_key=True, max_length=40
    )
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    type: str = Field(max_length=40)
    provider: str = Field(max_length=60)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    previews: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class ConnectorInstance(SQLModel, table=True):
    """A named, configured use of a connector with one credential."""

    __tablename__ = "connector_instances"

    id: str = Field(default_factory=lambda: new_id("ctr_", 12), primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    type: str = Field(max_length=60)
    credential_id: str | None = Field(
        default=None, foreign_key="credentials.id", index=True, max_length=40
    )
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)


def credential_aad(user_id: str, credential_id: str) -> bytes:
    return associated_data(user_id, "credential", credential_id)


rotation.register(Credential, "ciphertext", lambda row: credential_aad(row["user_id"], row["id"]))


class CredentialNotFound(NotFoundError):
    """No such credential belongs to the caller (or it went away meanwhile)."""

    code = "CREDENTIAL_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Credential not found")


class CredentialInUse(ConflictError):
    """Connector instances still use the credential; ``details.connectorIds`` names them."""

    code = "CREDENTIAL_IN_USE"

    def __init__(self, instance_ids: list[str]) -> None:
        super().__init__(
            "Credential is used by connector instances: " + ", ".join(instance_ids),
            details={"connectorIds": instance_ids},
        )
        self.instance_ids = instance_ids


def mask(value: Any) -> str:
    """At most the last four characters, and only of values long enough to spare them."""
    text = str(value)
    return "••••" + text[-4:] if len(text) >= 12 else "••••"


def previews_of(data: dict[str, Any], public_fields: Iterable[str]) -> dict[str, str]:
    """Declared non-secret fields in full (a host, a user name); everything else masked."""
    shown = set(public_fields)
    return {
        name: (str(value) if name in shown and not isinstance(value, dict | list) else mask(value))
        for name, value in data.items()
        if value is not None
    }


def open_data(vault: Vault, row: Credential) -> dict[str, Any]:
    return dict(vault.decrypt_json(row.ciphertext, credential_aad(row.user_id, row.id)))


async def create(
    db: Database,
    vault: Vault,
    *,
    user_id: str,
    name: str,
    description: str | None,
    type: str,
    provider: str,
    data: dict[str, Any],
    metadata: dict[str, Any],
    public_fields: Iterable[str],
) -> Credential:
    row = Credential(
        user_id=user_id,
        name=name,
        description=description,
        type=type,
        provider=provider,
        ciphertext="",
        meta=metadata,
    )
    row.ciphertext = vault.encrypt_json(data, credential_aad(user_id, row.id))
    row.previews = previews_of(data, public_fields)
    await db.save(row)
    return row


async def get_owned(db: Database, user_id: str, credential_id: str) -> Credential | None:
    return await db.get_owned(Credential, user_id, credential_id)


async def list_owned(db: Database, user_id: str) -> list[Credential]:
    return await db.list_owned(Credential, user_id)


async def update(
    db: Database,
    vault: Vault,
    row: Credential,
    *,
    changes: dict[str, Any],
    data: dict[str, Any] | None,
    public_fields: Iterable[str],
) -> Credential:
    """Apply plain field ``changes``; ``data`` (already merged by the caller) is re-encrypted.

    ``CredentialNotFound`` if the row was deleted meanwhile.
    """
    async with db.session() as session:
        fresh = await session.get(Credential, row.id)
        if fresh is None or fresh.user_id != row.user_id:
            raise CredentialNotFound()
        for name, value in changes.items():
            setattr(fresh, name, value)
        if data is not None:
            fresh.ciphertext = vault.encrypt_json(data, credential_aad(fresh.user_id, fresh.id))
            fresh.previews = previews_of(data, public_fields)
        fresh.updated_at = utcnow()
        session.add(fresh)
        await session.commit()
        return fresh


async def merge_data(
    db: Database,
    vault: Vault,
    user_id: str,
    credential_id: str,
    values: dict[str, Any],
    public_fields: Iterable[str] = (),
) -> None:
    """Merge refreshed fields (new OAuth tokens) into a stored credential, in one transaction."""
    async with db.session() as session:
        row = await session.get(Credential, credential_id, with_for_update=True)
        if row is None or row.user_id != user_id:
            raise LookupError(credential_id)
        data = {**open_data(vault, row), **values}
        row.ciphertext = vault.encrypt_json(data, credential_aad(user_id, row.id))
        row.previews = previews_of(
            data,
            set(public_fields) | {k for k, v in row.previews.items() if not v.startswith("••••")},
        )
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()


async def delete(db: Database, row: Credential) -> None:
    async with db.session() as session:
        users = (
            await session.exec(
                select(ConnectorInstance.id).where(ConnectorInstance.credential_id == row.id)
            )
        ).all()
        if users:
            raise CredentialInUse(list(users))
        fresh = await session.get(Credential, row.id)
        if fresh is not None:
            await session.delete(fresh)
            await session.commit()


async def create_instance(
    db: Database,
    *,
    user_id: str,
    name: str,
    type: str,
    credential_id: str | None,
    config: dict[str, Any],
) -> ConnectorInstance:
    row = ConnectorInstance(
        user_id=user_id, name=name, type=type, credential_id=credential_id, config=config
    )
    await db.save(row)
    return row


async def get_instance(db: Database, user_id: str, instance_id: str) -> ConnectorInstance | None:
    return await db.get_owned(ConnectorInstance, user_id, instance_id)


async def list_instances(db: Database, user_id: str) -> list[ConnectorInstance]:
    return await db.list_owned(ConnectorInstance, user_id)


async def delete_instance(db: Database, row: ConnectorInstance) -> None:
    async with db.session() as session:
        fresh = await session.get(ConnectorInstance, row.id)
        if fresh is not None:
            await session.delete(fresh)
            await session.commit()
