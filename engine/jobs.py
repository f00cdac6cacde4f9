"""The job model shared by every job workflow, and how it is mirrored into visibility.

Job state lives in the workflow and is read exactly through the ``job_state``
query. It is mirrored coarsely (on status changes and on progress steps, not on
every record) into search attributes (user, type, status, progress) and memo
(message, metadata), so listing and counting jobs is one visibility call.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

JobType = Literal[
    "linkedin_action", "data_enrichment", "workflow_run", "tool_execution", "webhook_delivery",
    "lead_import",
]
JOB_TYPES: tuple[str, ...] = (
    "linkedin_action",
    "data_enrichment",
    "workflow_run",
    "tool_execution",
    "webhook_delivery",
    "lead_import",
)
JobStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = ("pending", "running", "completed", "failed", "cancelled")

SA_USER_ID = SearchAttributeKey.for_keyword("TaskyardUserId")
SA_JOB_TYPE = SearchAttributeKey.for_keyword("TaskyardJobType")
SA_JOB_STATUS = SearchAttributeKey.for_keyword("TaskyardJobStatus")
SA_PROGRESS = SearchAttributeKey.for_int("TaskyardProgress")
# workflow_run only: the definition an execution runs, so executions list by workflow.
SA_WORKFLOW_ID = SearchAttributeKey.for_keyword("TaskyardWorkflowId")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    SA_USER_ID,
    SA_JOB_TYPE,
    SA_JOB_STATUS,
    SA_PROGRESS,
    SA_WORKFLOW_ID,
)

QUERY_JOB_STATE = "job_state"


class JobState(BaseModel):
    """What a user sees of a job."""

    status: JobStatus = "pending"
    progress: int = Field(default=0, ge=0, le=100)
    message: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: Any = None
    error: str | None = None
    error_type: str | None = None


def start_attributes(user_id: str, job_type: str) -> TypedSearchAttributes:
    """Search attributes a job workflow is started with."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(SA_USER_ID, user_id),
            SearchAttributePair(SA_JOB_TYPE, job_type),
            SearchAttributePair(SA_JOB_STATUS, "pending"),
            SearchAttributePair(SA_PROGRESS, 0),
        ]
    )


def start_memo(message: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {"message": message, "metadata": metadata, "progress": 0}


class JobTracker:
    """Workflow-side holder of a job's state. Only call from workflow code."""

    # Progress is mirrored to visibility at most this often (in percentage points)…
    MIRROR_STEP = 10
    # …and, when set, no sooner than this after the last mirror (status changes always are).
    mirror_every: timedelta | None = None

    def __init__(self, message: str = "", metadata: dict[str, Any] | None = None) -> None:
        self.state = JobState(message=message, metadata=dict(metadata or {}))
        self._mirrored_progress = 0
        self._mirrored_status: str = "pending"
        self._mirrored_at: datetime | None = None
        # Set by ``begin(lean=True)``: the memo visibility holds, so only what changed is sent.
        self._mirrored_memo: dict[str, Any] | None = None

    def begin(self, message: str, *, status: JobStatus = "pending", lean: bool = False) -> None:
        """Mark the job started. ``lean`` (a workflow's choice, behind its own patch): write
        to visibility only what differs from what the job was started with — a memo equal to
        the start memo and an unchanged progress are not sent again."""
        now = workflow.now()
        self.state.created_at = self.state.created_at or workflow.info().start_time or now
        if lean:
            self._mirrored_memo = dict(workflow.memo())
        self.update(status=status, message=message)

    def update(
        self,
        *,
        status: JobStatus | None = None,
        progress: int | None = None,
        message: str | None = None,
        metadata: dict[str, Any] | None = None,
        force_mirror: bool = False,
    ) -> None:
        s = self.state
        if status is not None:
            s.status = status
            if status == "running" and s.started_at is None:
                s.started_at = workflow.now()
            if status in ("completed", "failed", "cancelled"):
                s.completed_at = workflow.now()
        if progress is not None:
            s.progress = max(0, min(100, progress))
        if message is not None:
            s.message = message
        if metadata:
            s.metadata.update(metadata)
        self._mirror(force=force_mirror or message is not None or metadata is not None)

    def complete(self, message: str, result: Any = None) -> None:
        self.state.result = result
        self.update(status="completed", progress=100, message=message)

    def fail(self, message: str, error_type: str | None = None) -> None:
        self.state.error = message
        self.state.error_type = error_type
        self.update(status="failed", message=message)

    def cancel(self, message: str = "Cancelled") -> None:
        self.update(status="cancelled", message=message)

    def _mirror(self, *, force: bool) -> None:
        s = self.state
        status_changed = s.status != self._mirrored_status
        progress_step = abs(s.progress - self._mirrored_progress) >= self.MIRROR_STEP
        if progress_step and self.mirror_every is not None and self._mirrored_at is not None:
            progress_step = workflow.now() - self._mirrored_at >= self.mirror_every
        if not (status_changed or progress_step or force):
            return
        memo = {"message": s.message, "metadata": s.metadata, "progress": s.progress}
        if self._mirrored_memo is None:
            workflow.upsert_search_attributes(
                [SA_JOB_STATUS.value_set(s.status), SA_PROGRESS.value_set(s.progress)]
            )
            workflow.upsert_memo(memo)
        else:
            changed = [pair for pair, differs in (
                (SA_JOB_STATUS.value_set(s.status), status_changed),
                (SA_PROGRESS.value_set(s.progress), s.progress != self._mirrored_progress),
            ) if differs]
            if changed:
                workflow.upsert_search_attributes(changed)
            if memo != self._mirrored_memo:
                workflow.upsert_memo(memo)
                self._mirrored_memo = {**memo, "metadata": dict(s.metadata)}
        self._mirrored_status = s.status
        self._mirrored_progress = s.progress
        self._mirrored_at = workflow.now()


def activity_timeout(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


class JobWorkflow:
    """Base of every job workflow: its ``JobTracker`` answers the ``job_state`` query."""

    _job: JobTracker

    @workflow.query(name=QUERY_JOB_STATE)
    def job_state(self) -> JobState:
        return self._job.state
