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
from temporalio.common import (
    Priority,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

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
# Fair share: the tenant a job's tasks are balanced by, and their priority class (1..5),
# as started (engine.models.fairness), so operators can filter on them in the Temporal UI.
SA_FAIRNESS_KEY = SearchAttributeKey.for_keyword("TaskyardFairnessKey")
SA_PRIORITY = SearchAttributeKey.for_int("TaskyardPriority")
# campaign_enrollment only: the LinkedIn campaign an enrollment belongs to, so a campaign's
# enrollments are selected (paused, resumed, cancelled, counted) by one visibility query.
SA_CAMPAIGN_ID = SearchAttributeKey.for_keyword("TaskyardCampaignId")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    SA_USER_ID,
    SA_JOB_TYPE,
    SA_JOB_STATUS,
    SA_PROGRESS,
    SA_WORKFLOW_ID,
    SA_FAIRNESS_KEY,
    SA_PRIORITY,
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


def start_attributes(
    user_id: str, job_type: str, priority: Priority | None = None
) -> TypedSearchAttributes:
    """Search attributes a job workflow is started with (``priority``: its fair-share key
    and class, shown as ``TaskyardFairnessKey`` and ``TaskyardPriority``)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(SA_USER_ID, user_id),
        SearchAttributePair(SA_JOB_TYPE, job_type),
        SearchAttributePair(SA_JOB_STATUS, "pending"),
        SearchAttributePair(SA_PROGRESS, 0),
    ]
    if priority is not None:
        pairs += priority_attributes(priority)
    return TypedSearchAttributes(pairs)


def priority_attributes(priority: Priority) -> list[SearchAttributePair[Any]]:
    """``TaskyardFairnessKey`` and ``TaskyardPriority`` of a start's priority (those set)."""
    pairs: list[SearchAttributePair[Any]] = []
    if priority.fairness_key:
        pairs.append(SearchAttributePair(SA_FAIRNESS_KEY, priority.fairness_key))
    if priority.priority_key:
        pairs.append(SearchAttributePair(SA_PRIORITY, priority.priority_key))
    return pairs


def start_memo(message: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The memo a job workflow is started with (its first message and metadata)."""
    return {"message": message, "metadata": metadata, "progress": 0}
