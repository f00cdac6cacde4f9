"""LinkedIn campaigns (sequences), their enrollments, each enrollment's steps, and the
provider events already seen.

One ``linkedin_enrollments`` row per (campaign, member): it maps the provider's ids (the
sending account, the member's public identifier or provider id) to the enrollment workflow
(its id is the row's id), and holds the counters the stats read. ``linkedin_enrollment_steps``
has one row per step an enrollment finished (a step runs at most once: branches only jump
forward), which makes recording a step idempotent and the per-step stats one GROUP BY.
``linkedin_provider_events`` makes an event id count once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.db import utcnow
from store.models import new_id


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def _optional_ts() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


def new_campaign_id() -> str:
    return new_id("cmp_", 8)


def new_enrollment_id() -> str:
    return new_id("enr_", 12)


class LinkedInCampaign(SQLModel, table=True):
    __tablename__ = "linkedin_campaigns"
    __table_args__ = (Index("ix_linkedin_campaigns_user_created", "user_id", "created_at", "id"),)

    id: str = Field(default_factory=new_campaign_id, primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    name: str = Field(max_length=200)
    status: str = Field(default="draft", max_length=20)  # draft running paused completed cancelled
    account_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    steps: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pause_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    started_at: datetime | None = _optional_ts()
    finished_at: datetime | None = _optional_ts()


class LinkedInEnrollment(SQLModel, table=True):
    __tablename__ = "linkedin_enrollments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "profile_slug", name="uq_linkedin_enrollments_member"),
        Index("ix_linkedin_enrollments_campaign", "campaign_id", "status", "position"),
        Index("ix_linkedin_enrollments_account_slug", "account_id", "profile_slug"),
        Index("ix_linkedin_enrollments_account_member", "account_id", "provider_user_id"),
        Index("ix_linkedin_enrollments_account_status", "account_id", "status"),
    )

    id: str = Field(default_factory=new_enrollment_id, primary_key=True, max_length=40)
    campaign_id: str = Field(foreign_key="linkedin_campaigns.id", max_length=40)
    user_id: str = Field(max_length=40)
    account_id: str = Field(max_length=40)
    lead_id: str | None = Field(default=None, max_length=40)
    profile_url: str = Field(sa_column=Column(Text, nullable=False))
    profile_slug: str = Field(max_length=200)
    provider_user_id: str | None = Field(default=None, max_length=200)
    target_fields: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    position: int = 0
    status: str = Field(default="pending", max_length=20)
    current_step: int = 0
    messages_sent: int = 0
    actions: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    invited_at: datetime | None = _optional_ts()
    accepted_at: datetime | None = _optional_ts()
    replied_at: datetime | None = _optional_ts()
    last_action_at: datetime | None = _optional_ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    started_at: datetime | None = _optional_ts()
    finished_at: datetime | None = _optional_ts()


class LinkedInEnrollmentStep(SQLModel, table=True):
    __tablename__ = "linkedin_enrollment_steps"
    __table_args__ = (Index("ix_linkedin_enrollment_steps_campaign", "campaign_id", "step_index"),)

    enrollment_id: str = Field(primary_key=True, max_length=40)
    step_index: int = Field(primary_key=True)
    campaign_id: str = Field(max_length=40)
    account_id: str = Field(max_length=40)
    step_type: str = Field(max_length=40)
    outcome: str = Field(max_length=20)
    at: datetime = _ts()


class LinkedInProviderEvent(SQLModel, table=True):
    __tablename__ = "linkedin_provider_events"

    id: str = Field(primary_key=True, max_length=200)
    provider: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    account_id: str | None = Field(default=None, max_length=40)
    received_at: datetime = _ts()
    processed_at: datetime | None = _optional_ts()
