"""Request and response models of the workflows, executions and schedules routes.

Handlers validate with these and the OpenAPI document is generated from them,
so the published schema is the one enforced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from api.catalog_schemas import with_definition
from engine.models.fairness import RequestedPriority
from engine.models.runs import Definition, StepState

# Plain five-field cron (minute hour day month weekday, each * or one number): what the
# document promises is accepted; steps, ranges and lists are accepted as well.
CRON_PATTERN = (
    r"^(\*|[1-5]?[0-9]) (\*|1?[0-9]|2[0-3]) (\*|[1-9]|[12][0-9]|3[01]) "
    r"(\*|[1-9]|1[0-2]) (\*|[0-6])$"
)
OverlapPolicy = Literal["skip", "buffer_one", "allow_all", "cancel_previous"]
ExecutionStatus = Literal["pending", "running", "completed", "failed", "cancelled"]


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: Definition = Field(json_schema_extra=with_definition)
    isPublic: bool = False


class WorkflowUpdate(BaseModel):
    """PUT: the fields sent replace the stored ones; a new definition makes a new version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: Definition | None = Field(default=None, json_schema_extra=with_definition)
    isPublic: bool | None = None


class WorkflowCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)


class WorkflowListQuery(BaseModel):
    public: bool = Field(default=False, description="List every public workflow instead")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class WorkflowSummary(BaseModel):
    id: str
    name: str
    description: str | None = None
    isPublic: bool
    version: int
    owned: bool
    copiedFrom: str | None = None
    createdAt: datetime
    updatedAt: datetime


class WorkflowDetail(WorkflowSummary):
    definition: Definition


class Deleted(BaseModel):
    id: str
    deleted: bool = True


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict)
    # Among the caller's own work: high runs before normal, low after (docs/fairness.md).
    priority: RequestedPriority | None = None


class ExecuteResponse(BaseModel):
    executionId: str
    status: ExecutionStatus
    startedAt: datetime
    workflowId: str
    version: int
    # Why a run waits: queued behind the user's running-executions cap.
    message: str | None = None


class ExecutionAction(BaseModel):
    # fromStep only goes with retry.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"properties": {"action": {"enum": ["cancel"]}}, "not": {"required": ["fromStep"]}},
                {"properties": {"action": {"enum": ["retry"]}}},
            ]
        },
    )

    action: Literal["cancel", "retry"]
    fromStep: str | None = Field(default=None, min_length=1, max_length=64)


class ExecutionEvent(BaseModel):
    """An event for the execution's ``wait_for_event`` steps; ``id`` makes a retry of
    this call count once."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    payload: Any = None
    id: str | None = Field(default=None, min_length=1, max_length=100)


class EventAccepted(BaseModel):
    executionId: str
    event: str
    status: Literal["accepted"]


class CancelResponse(BaseModel):
    executionId: str
    status: Literal["cancelling"]


class ExecutionView(BaseModel):
    id: str
    executionId: str
    workflowId: str
    version: int
    status: ExecutionStatus
    progress: int = Field(ge=0, le=100)
    finishedSteps: int
    totalSteps: int
    input: dict[str, Any] | None = None
    output: Any = None
    error: str | None = None
    errorType: str | None = None
    steps: list[StepState]
    startedAt: datetime | None = None
    completedAt: datetime | None = None
    retryOf: str | None = None
    fromStep: str | None = None
    scheduleId: str | None = None


class ExecutionSummary(BaseModel):
    id: str
    executionId: str
    workflowId: str | None = None
    version: int | None = None
    status: ExecutionStatus
    progress: int
    finishedSteps: int | None = None
    totalSteps: int | None = None
    message: str = ""
    startedAt: datetime
    completedAt: datetime | None = None


class Pagination(BaseModel):
    limit: int
    nextPageToken: str | None = None
    hasMore: bool


class ExecutionList(BaseModel):
    executions: list[ExecutionSummary]
    pagination: Pagination


class ExecutionListQuery(BaseModel):
    workflowId: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    status: ExecutionStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    pageToken: str | None = Field(default=None, max_length=4096)


class StepOutputView(BaseModel):
    executionId: str
    step: str
    output: Any = None
    size: int | None = None


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(
        min_length=1,
        max_length=200,
        description="Five-field cron expression",
        json_schema_extra={"pattern": CRON_PATTERN, "x-cron": "five fields, * / - , allowed"},
    )
    timezone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        description="IANA time zone name, e.g. Europe/Berlin",
        json_schema_extra={"x-format": "IANA time zone name"},
    )
    input: dict[str, Any] = Field(default_factory=dict)
    overlapPolicy: OverlapPolicy = "skip"
    paused: bool = False
    note: str | None = Field(default=None, max_length=500)


class SchedulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra={"pattern": CRON_PATTERN}
    )
    timezone: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        json_schema_extra={"x-format": "IANA time zone name"},
    )
    input: dict[str, Any] | None = None
    overlapPolicy: OverlapPolicy | None = None
    paused: bool | None = None
    note: str | None = Field(default=None, max_length=500)


class ScheduleView(BaseModel):
    id: str
    workflowId: str
    cron: str
    timezone: str
    input: dict[str, Any]
    overlapPolicy: OverlapPolicy
    paused: bool
    note: str | None = None
    nextRunTimes: list[datetime]
    recentExecutions: list[str]
    runningExecutions: list[str]
    createdAt: datetime
    updatedAt: datetime


class ScheduleList(BaseModel):
    schedules: list[ScheduleView]


class Triggered(BaseModel):
    id: str
    triggered: bool = True


def reply(
    model: BaseModel | list[Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A model (or list of models) as JSON, field names as documented."""
    if isinstance(model, BaseModel):
        content: Any = model.model_dump(mode="json", by_alias=True)
    else:
        content = [m.model_dump(mode="json", by_alias=True) for m in model]
    return JSONResponse(content, status_code=status, headers=headers)
