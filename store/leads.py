"""Lead tables: the leads themselves, their tags, import staging and enrichment batches.

Large inputs (an uploaded CSV, a 10,000-lead batch) live here, not in workflow
history: a workflow carries an import or batch id and its activities read rows
by position. Per-row and per-lead outcomes are recorded beside them, so a
retried activity skips what is already done and users can list the errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from store.db import utcnow
from store.models import new_id

LEAD_STATUSES: tuple[str, ...] = (
    "new",
    "contacted",
    "responded",
    "converted",
    "unqualified",
    "active",
    "inactive",
)


def new_lead_id() -> str:
    return new_id("lead_", 12)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


class Lead(SQLModel, table=True):
    """One lead. ``email_key`` (lower-cased email) makes uniqueness per user case-insensitive
    in the database itself, so two concurrent creates cannot both succeed."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("user_id", "email_key", name="uq_leads_user_email"),
        Index("ix_leads_user_created", "user_id", "created_at", "id"),
        Index("ix_leads_user_updated", "user_id", "updated_at", "id"),
        Index("ix_leads_user_first", "user_id", func.lower(text("first_name")), "id"),
        Index("ix_leads_user_last", "user_id", func.lower(text("last_name")), "id"),
        Index("ix_leads_user_status", "user_id", "status", "created_at", "id"),
        Index("ix_leads_user_search", "user_id", "search_text", "id"),
    )

    id: str = Field(default_factory=new_lead_id, primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    first_name: str = Field(max_length=200)
    last_name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    email_key: str = Field(max_length=320)
    company: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=64)
    linkedin_url: str | None = Field(default=None, max_length=500)
    job_title: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="new", max_length=20)
    # lower(first last email company): one column to match ``search`` against.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    enrichment: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    enriched_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class LeadTag(SQLModel, table=True):
    """A lead's tags, one row each (lower-cased), so ``?tag=`` is an indexed lookup on any
    database; the lead keeps the tags as typed, in order, in its JSON column."""

    __tablename__ = "lead_tags"
    __table_args__ = (Index("ix_lead_tags_user_tag", "user_id", "tag", "lead_id"),)

    lead_id: str = Field(
        foreign_key="leads.id", primary_key=True, max_length=40, ondelete="CASCADE"
    )
    tag: str = Field(primary_key=True, max_length=100)
    user_id: str = Field(max_length=40)


class LeadImport(SQLModel, table=True):
    """An import job; its id is the Temporal workflow id."""

    __tablename__ = "lead_imports"

    id: str = Field(primary_key=True, max_length=80)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    source_format: str = Field(max_length=10)
    on_duplicate: str = Field(default="error", max_length=10)
    total_rows: int = 0
    created_at: datetime = _ts(nullable=False)


class LeadImportRow(SQLModel, table=True):
    """One staged input row and what became of it: pending, imported, updated, skipped, failed."""

    __tablename__ = "lead_import_rows"
    __table_args__ = (Index("ix_lead_import_rows_status", "import_id", "status"),)

    import_id: str = Field(
        foreign_key="lead_imports.id", primary_key=True, max_length=80, ondelete="CASCADE"
    )
    row_number: int = Field(primary_key=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=10)
    lead_id: str | None = Field(default=None, max_length=40)
    error_code: str | None = Field(default=None, max_length=40)
    error_field: str | None = Field(default=None, max_length=100)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class EnrichmentBatch(SQLModel, table=True):
    """An enrichment job's request: which leads (ids or a filter), providers, fields."""

    __tablename__ = "enrichment_batches"

    id: str = Field(primary_key=True, max_length=80)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    lead_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    filter: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    providers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    overwrite: bool = False
    sealed_secret_id: str | None = Field(default=None, max_length=40)
    credential_ids: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    prepared: bool = False
    total: int = 0
    created_at: datetime = _ts(nullable=False)


class EnrichmentItem(SQLModel, table=True):
    """One lead of a batch: pending, enriched, failed or cancelled, with what changed.

    It is marked in the same transaction that writes the lead, so a retried or
    restarted activity never enriches a lead twice.
    """

    __tablename__ = "enrichment_items"
    __table_args__ = (Index("ix_enrichment_items_status", "batch_id", "status"),)

    batch_id: str = Field(
        foreign_key="enrichment_batches.id", primary_key=True, max_length=80, ondelete="CASCADE"
    )
    seq: int = Field(primary_key=True)
    lead_id: str = Field(max_length=40)
    status: str = Field(default="pending", max_length=10)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
