"""Tables. Hashed and encrypted values live only here, never on a public model."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Float, Text
from sqlmodel import Field, SQLModel

from store.db import utcnow


def new_id(prefix: str = "", nbytes: int = 12) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=lambda: new_id(), primary_key=True, max_length=40)
    email: str = Field(index=True, unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    created_at: datetime = _ts(nullable=False)
    # Fair share, set by an operator (``PATCH /api/v2/users/{id}``); None: the settings' value.
    fairness_weight: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    quotas: dict[str, int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=lambda: new_id("key_", 8), primary_key=True, max_length=40)
    user_id: str | None = Field(default=None, foreign_key="users.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    key_hash: str = Field(index=True, unique=True, max_length=64)
    key_preview: str = Field(max_length=20)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_active: bool = Field(default=True)
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_used: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # The key that minted this one (None: bootstrap, command line or older keys). Revoking
    # a key revokes its descendants along this link.
    parent_key_id: str | None = Field(
        default=None, foreign_key="api_keys.id", index=True, max_length=40
    )


class SealedSecret(SQLModel, table=True):
    """Secret request material (inline auth, sensitive headers) kept out of workflow history.

    Workflows carry the id; the activity loads and decrypts it.
    """

    __tablename__ = "sealed_secrets"
    id: str = Field(default_factory=lambda: new_id("sec_", 12), primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts(nullable=False)


class JobNote(SQLModel, table=True):
    """A message a user set on a job (``editJobMessage``); shown instead of the workflow's."""

    __tablename__ = "job_notes"

    job_id: str = Field(primary_key=True, max_length=200)
    user_id: str = Field(index=True, max_length=40)
    message: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _ts(nullable=False)
