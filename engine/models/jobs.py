"""The job model: kinds, statuses, the state a user sees, and how jobs are found in visibility.

Job state lives in the workflow and is read exactly through the ``job_state`` query. It is
mirrored coarsely into search attributes (user, type, status, progress) and memo (message,
metadata), so listing and counting jobs is one visibility call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

JobType = Literal[
    "linkedin_action",
    "data_enrichment",
    "workflow_run",
    "tool_execution",
    "webhook_delivery",
    "lead_import",
    "campaign_enrollment",
]
JOB_TYPES: tuple[str, ...] = get_args(JobType)
JobStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
FINISHED_STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled")

# How a closed workflow reads as a job (a running one reports its own pending/running).
CLOSED_STATUS: dict[WorkflowExecutionStatus, JobStatus] = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "failed",
    WorkflowExecutionStatus.TERMINATED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
}

SA_USER_ID = SearchAttributeKey.for_keyword("TaskyardUserId")
SA_JOB_TYPE = SearchAttributeKey.for_keyword("TaskyardJobType")
SA_JOB_STATUS = SearchAttributeKey.for_keyword("TaskyardJobStatus")
SA_PROGRESS = SearchAttributeKey.for_int("TaskyardProgress")
# workflow_run only: the definition an execution runs, so executions list by workflow.
SA_WORKFLOW_ID = SearchAttributeKey.for_keyword("TaskyardWorkflowId")
# campaign_enrollment only: the LinkedIn campaign an enrollment belongs to, so a campaign's
# enrollments are selected (paused, resumed, cancelled, counted) by one visibility query.
SA_CAMPAIGN_ID = SearchAttributeKey.for_keyword("TaskyardCampaignId")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    SA_USER_ID,
    SA_JOB_TYPE,
    SA_JOB_STATUS,
    SA_PROGRESS,
    SA_WORKFLOW_ID,
    SA_CAMPAIGN_ID,
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
    """The memo a job workflow is started with (its first message and metadata)."""
    return {"message": message, "metadata": metadata, "progress": 0}
