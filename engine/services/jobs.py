"""JobService: the one object through which the API reaches Temporal for jobs.

Every method takes the caller's user id; a job owned by anyone else is
reported as missing, so ids never leak across tenants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError, CancelledError, TerminatedError
from temporalio.service import RPCError, RPCStatusCode

from engine.models import fairness, queues
from engine.models.jobs import (
    CLOSED_STATUS,
    JOB_TYPES,
    QUERY_JOB_STATE,
    SA_FAIRNESS_KEY,
    SA_JOB_STATUS,
    SA_JOB_TYPE,
    SA_PRIORITY,
    SA_USER_ID,
    JobState,
    start_attributes,
    start_memo,
)
from engine.models.metrics import JOBS_STARTED
from engine.services import telemetry
from engine.services.fair_share import FairShare
from engine.services.pagination import PageTokens
from store.errors import ConflictError, NotFoundError

_STATUS_FILTER = {
    "completed": "ExecutionStatus = 'Completed'",
    "failed": "ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated')",
    "cancelled": "ExecutionStatus = 'Canceled'",
    "pending": "ExecutionStatus = 'Running' AND TaskyardJobStatus = 'pending'",
    "running": "ExecutionStatus = 'Running' AND TaskyardJobStatus != 'pending'",
}


class JobNotFound(NotFoundError):
    """No job with that id belongs to the caller."""

    code = "JOB_NOT_FOUND"


class JobAlreadyFinished(ConflictError):
    """The job has ended and cannot be changed."""

    code = "JOB_ALREADY_FINISHED"


class Job(BaseModel):
    id: str
    type: str
    userId: str | None = None
    status: str
    createdAt: datetime
    completedAt: datetime | None = None
    message: str = ""
    progress: int = 0
    metadata: dict[str, Any] = {}
    # Fair share as started: the tenant's key and the priority class (1 first .. 5 last).
    fairnessKey: str | None = None
    priority: int | None = None


class Statistics(BaseModel):
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    cancelled: int
    successRate: float
    # The user's current use against each quota (engine.services.fair_share.usage); only on
    # a user's own listing.
    quotas: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobFilter:
    """``user_id`` None lists every user's jobs (global keys on legacy routes only)."""

    user_id: str | None
    status: str | None = None
    job_type: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_page_token: str | None


@dataclass(frozen=True)
class ExecutionResult:
    successful: bool
    data: Any = None
    error: str | None = None
    error_type: str | None = None


def quote(value: str) -> str:
    """A string literal of Temporal's visibility query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def visibility_query(f: JobFilter, *, with_status: bool = True) -> str:
    if f.user_id is not None:
        owner = f"{SA_USER_ID.name} = {quote(f.user_id)}"
    else:
        owner = f"{SA_JOB_TYPE.name} IN ({', '.join(quote(t) for t in JOB_TYPES)})"
    parts = [owner, "ExecutionStatus != 'ContinuedAsNew'"]
    if f.job_type:
        parts.append(f"{SA_JOB_TYPE.name} = {quote(f.job_type)}")
    if with_status and f.status:
        parts.append(_STATUS_FILTER[f.status])
    if f.start:
        parts.append(f"StartTime >= {quote(_iso(f.start))}")
    if f.end:
        parts.append(f"StartTime <= {quote(_iso(f.end))}")
    return " AND ".join(parts)


def _status_of(execution: WorkflowExecution) -> str:
    if execution.status in CLOSED_STATUS:
        return CLOSED_STATUS[execution.status]
    return execution.typed_search_attributes.get(SA_JOB_STATUS) or "running"


async def job_from_execution(execution: WorkflowExecution) -> Job:
    """A job from visibility data alone (list and describe; no query)."""
    memo = await execution.memo()
    status = _status_of(execution)
    message = str(memo.get("message") or "")
    if execution.status == WorkflowExecutionStatus.TERMINATED:
        message = message if status == "failed" and "fail" in message else "Terminated"
    elif execution.status == WorkflowExecutionStatus.TIMED_OUT:
        message = "Timed out"
    return Job(
        id=execution.id,
        type=execution.typed_search_attributes.get(SA_JOB_TYPE) or "unknown",
        userId=execution.typed_search_attributes.get(SA_USER_ID),
        status=status,
        createdAt=execution.start_time,
        completedAt=execution.close_time,
        message=message,
        progress=100 if status == "completed" else int(memo.get("progress") or 0),
        metadata=dict(memo.get("metadata") or {}),
        fairnessKey=execution.typed_search_attributes.get(SA_FAIRNESS_KEY),
        priority=execution.typed_search_attributes.get(SA_PRIORITY),
    )


async def list_jobs(
    client: Client,
    query: str,
    *,
    limit: int,
    page_token: str | None,
    tokens: PageTokens,
    owner: str,
) -> JobPage:
    """One page of jobs matching a visibility query. ``page_token`` must be one this listing
    signed for ``owner`` and ``query`` (``InvalidPageToken`` otherwise, with no call made)."""
    token = tokens.open(page_token, owner=owner, scope=query) if page_token else None
    iterator = client.list_workflows(query, page_size=limit, next_page_token=token)
    await iterator.fetch_next_page(page_size=limit)
    jobs = [await job_from_execution(e) for e in iterator.current_page or []]
    next_token = iterator.next_page_token
    return JobPage(
        jobs=jobs,
        next_page_token=tokens.sign(next_token, owner=owner, scope=query) if next_token else None,
    )


class JobService:
    """Starts, reads, lists, counts and cancels jobs for one user at a time."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue_prefix: str,
        tokens: PageTokens,
        fair: FairShare | None = None,
    ) -> None:
        self.client = client
        self.prefix = task_queue_prefix
        self.tokens = tokens
        self.fair = fair  # gives a start without its own priority the user's weight

    def queue(self, name: str) -> str:
        return queues.task_queue(self.prefix, name)

    async def priority(
        self,
        user_id: str,
        job_class: int,
        *,
        requested: str | None = None,
        app_id: str | None = None,
        end_user_id: str | None = None,
    ) -> Priority:
        """The ``Priority`` a start of ``job_class`` carries for this tenant (with the user's
        weight when this service knows the fair-share policy)."""
        if self.fair is not None:
            return await self.fair.priority(
                user_id, job_class, requested=requested, app_id=app_id, end_user_id=end_user_id
            )
        key = fairness.fairness_key(user_id, app_id=app_id, end_user_id=end_user_id)
        return fairness.job_priority(key, job_class, requested=requested)

    async def start(
        self,
        workflow: str | Callable[..., Any],
        arg: BaseModel,
        *,
        job_id: str,
        user_id: str,
        job_type: str,
        queue: str,
        message: str,
        metadata: dict[str, Any] | None = None,
        result_type: type | None = None,
        extra_attributes: list[SearchAttributePair[Any]] | None = None,
        summary: str | None = None,
        priority: Priority | None = None,
    ) -> WorkflowHandle[Any, Any]:
        """Start one job. ``summary`` (engine.models.summaries) is what the Temporal UI lists
        it as; it never carries personal data. ``priority`` (FairShare.priority): its fairness
        key, weight and class; without one the job runs at its kind's default class under the
        user's key."""
        if priority is None:
            job_class = fairness.DEFAULT_CLASS.get(job_type, fairness.NORMAL)
            priority = await self.priority(user_id, job_class)
        attributes = start_attributes(user_id, job_type, priority)
        if extra_attributes:  # a job kind's own search attributes (workflow_run: the workflow)
            attributes = TypedSearchAttributes([*attributes.search_attributes, *extra_attributes])
        telemetry.annotate_job(job_id)
        handle = await self.client.start_workflow(
            cast(Any, workflow),  # a workflow name or a run method; the SDK overloads both
            arg,
            id=job_id,
            task_queue=self.queue(queue),
            search_attributes=attributes,
            memo=start_memo(message, metadata or {}),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            result_type=result_type,
            static_summary=summary or job_type,
            priority=priority,
        )
        JOBS_STARTED.labels(job_type).inc()
        return handle

    async def owned(self, user_id: str, job_id: str) -> WorkflowExecutionDescription:
        """The job's description if ``user_id`` owns it, else ``JobNotFound`` (never 403)."""
        try:
            description = await self.client.get_workflow_handle(job_id).describe()
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise JobNotFound(job_id) from exc
            raise
        if description.typed_search_attributes.get(SA_USER_ID) != user_id:
            raise JobNotFound(job_id)
        return description

    async def get(self, user_id: str, job_id: str) -> tuple[Job, JobState | None]:
        """One job; while it runs, progress comes exactly from the workflow query."""
        description = await self.owned(user_id, job_id)
        job = await job_from_execution(description)
        state: JobState | None = None
        if description.status == WorkflowExecutionStatus.RUNNING:
            try:
                state = await self.client.get_workflow_handle(job_id).query(
                    QUERY_JOB_STATE, result_type=JobState
                )
            except RPCError:
                state = None
            if state is not None:
                job.status, job.progress, job.message = state.status, state.progress, state.message
                job.metadata = state.metadata
        return job, state

    async def list(self, f: JobFilter, *, limit: int, page_token: str | None) -> JobPage:
        return await list_jobs(
            self.client,
            visibility_query(f),
            limit=limit,
            page_token=page_token,
            tokens=self.tokens,
            owner=f.user_id or "*",
        )

    async def statistics(self, f: JobFilter) -> Statistics:
        """Two visibility counts: by execution status, and pending among the running."""
        base = visibility_query(f, with_status=False)
        grouped = await self.client.count_workflows(base + " GROUP BY ExecutionStatus")
        counts: Counter[str] = Counter()
        for group in grouped.groups:
            counts[str(group.group_values[0])] += group.count
        pending = 0
        if counts["Running"]:
            pending = (
                await self.client.count_workflows(base + " AND " + _STATUS_FILTER["pending"])
            ).count
        completed = counts["Completed"]
        failed = counts["Failed"] + counts["TimedOut"] + counts["Terminated"]
        finished = completed + failed
        return Statistics(
            total=sum(counts.values()),
            pending=pending,
            running=counts["Running"] - pending,
            completed=completed,
            failed=failed,
            cancelled=counts["Canceled"],
            successRate=round(100.0 * completed / finished, 1) if finished else 0.0,
        )

    async def cancel(self, user_id: str, job_id: str) -> None:
        description = await self.owned(user_id, job_id)
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise JobAlreadyFinished(job_id)
        await self.client.get_workflow_handle(job_id).cancel()

    async def outcome(self, handle: WorkflowHandle[Any, Any]) -> ExecutionResult:
        """Wait for a job and turn its end into a result (no exception for job failures)."""
        try:
            result = await handle.result()
        except WorkflowFailureError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                return ExecutionResult(False, error=cause.message, error_type=cause.type)
            if isinstance(cause, CancelledError):
                return ExecutionResult(False, error="cancelled", error_type="Cancelled")
            if isinstance(cause, TerminatedError):
                return ExecutionResult(False, error="terminated", error_type="Terminated")
            return ExecutionResult(False, error=str(cause or exc), error_type="WorkflowFailed")
        data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        if isinstance(data, dict) and "successful" in data and "data" in data:
            return ExecutionResult(
                bool(data["successful"]),
                data=data["data"],
                error=data.get("error"),
                error_type=data.get("error_type"),
            )
        return ExecutionResult(True, data=data)
