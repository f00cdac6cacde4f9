"""Workflow definitions, their versions, execution records, schedules and large step outputs.

A definition is versioned: every change of ``definition`` adds a
``workflow_versions`` row, and an execution names the version it runs, so an
edit never changes a run in flight. Literal secrets found in a step's config
(``auth``, credential-bearing headers) are sealed into ``sealed_secrets`` when
saved; a version keeps only their ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.db import utcnow
from store.models import new_id


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


def _optional_ts() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class WorkflowDef(SQLModel, table=True):
    __tablename__ = "workflows"

    id: str = Field(default_factory=lambda: new_id("wf_", 12), primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    is_public: bool = Field(default=False, index=True)
    version: int = Field(default=1)
    copied_from: str | None = Field(default=None, max_length=40)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class WorkflowVersion(SQLModel, table=True):
    __tablename__ = "workflow_versions"

    workflow_id: str = Field(foreign_key="workflows.id", primary_key=True, max_length=40)
    version: int = Field(primary_key=True)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # step name → {"id": sealed secret id, "keys": which config keys it holds}
    sealed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)


class ExecutionRecord(SQLModel, table=True):
    """One execution: written when the API starts it, completed when the run ends."""

    __tablename__ = "workflow_executions"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_wfx_idempotency"),)

    id: str = Field(primary_key=True, max_length=200)
    user_id: str = Field(index=True, max_length=40)
    workflow_id: str = Field(index=True, max_length=40)
    version: int
    status: str = Field(default="pending", max_length=20)
    idempotency_key: str | None = Field(default=None, max_length=255)
    request_hash: str | None = Field(default=None, max_length=64)
    input: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    retry_of: str | None = Field(default=None, max_length=200)
    from_step: str | None = Field(default=None, max_length=64)
    schedule_id: str | None = Field(default=None, max_length=40)
    # The sealed secret holding the input fields kept out of ``input`` (and of history).
    secret_input_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _optional_ts()
    # Under a running-executions cap (store.slot_repo): "running" holds one of the user's
    # slots, "queued" waits for one; None: not counted (no cap, or the run has ended).
    slot: str | None = Field(default=None, max_length=10)


class WorkflowSchedule(SQLModel, table=True):
    """Who owns a Temporal Schedule and what was asked (cron as written, time zone, input).

    Temporal runs it, keeps it paused or not and knows the next run times; the
    cron string is kept here because Temporal hands back compiled calendars.
    """

    __tablename__ = "workflow_schedules"

    id: str = Field(default_factory=lambda: new_id("sch_", 12), primary_key=True, max_length=40)
    user_id: str = Field(index=True, max_length=40)
    workflow_id: str = Field(index=True, max_length=40)
    cron: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    overlap_policy: str = Field(default="skip", max_length=20)
    input: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    secret_input_id: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class StepOutput(SQLModel, table=True):
    """A step output too large to keep in workflow history; the run carries its id."""

    __tablename__ = "workflow_step_outputs"

    id: str = Field(default_factory=lambda: new_id("out_", 12), primary_key=True, max_length=40)
    user_id: str = Field(index=True, max_length=40)
    execution_id: str = Field(index=True, max_length=200)
    step: str = Field(max_length=64)
    data: str = Field(sa_column=Column(Text, nullable=False))
    size: int
    created_at: datetime = _ts(nullable=False)
