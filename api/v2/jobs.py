"""User jobs (jobs API): list with filters and statistics, one job, cancel, legacy routes.

Lists and counts come from Temporal visibility; one job's progress comes from
its workflow query. Another user's job id is a 404.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import acting_user, require, require_user, required_user
from api.errors import BadRequest, Conflict, NotFound
from api.spec import operation
from api.state import services
from engine.models.jobs import JobStatus, JobType
from engine.services.jobs import (
    Job,
    JobAlreadyFinished,
    JobFilter,
    JobNotFound,
    JobService,
    Statistics,
)
from store import job_note_repo

LEGACY_ROUTE = "/api/v2/users/jobs/userJobStatus/:userId"
USER_JOBS_DENIED = "Insufficient permissions for user job access"


class JobQuery(BaseModel):
    startDate: int | None = Field(default=None, ge=0, le=32503680000)
    endDate: int | None = Field(default=None, ge=0, le=32503680000)
    status: JobStatus | None = None
    type: JobType | None = None
    limit: int = Field(default=50, ge=1, le=100)
    pageToken: str | None = Field(default=None, max_length=4096)
    userId: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _range(self) -> JobQuery:
        if self.startDate and self.endDate and self.startDate > self.endDate:
            raise ValueError("startDate must not be after endDate")
        return self


class JobOut(BaseModel):
    id: str
    type: str
    userId: str | None = None
    status: str
    createdAt: str | None = None
    completedAt: str | None = None
    message: str = ""
    progress: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    fairnessKey: str | None = None
    priority: int | None = None


class JobsPagination(BaseModel):
    limit: int
    nextPageToken: str | None = None
    hasMore: bool


class JobsData(BaseModel):
    statistics: Statistics
    jobs: list[JobOut] | None = None
    pagination: JobsPagination | None = None


class JobsResponse(BaseModel):
    userId: str | None = None
    success: bool
    data: JobsData


class JobResponse(BaseModel):
    userId: str
    success: bool
    data: JobOut


class CancelledJob(BaseModel):
    id: str
    status: str


class JobCancelResponse(BaseModel):
    userId: str
    success: bool
    message: str
    data: CancelledJob


class EditMessage(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    userId: str | None = None


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _filter(user_id: str | None, q: JobQuery) -> JobFilter:
    return JobFilter(
        user_id=user_id,
        status=q.status,
        job_type=q.type,
        start=_ts(q.startDate),
        end=_ts(q.endDate),
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def job_public(job: Job) -> dict[str, Any]:
    data = job.model_dump(mode="json")
    data["createdAt"] = _iso(job.createdAt)
    data["completedAt"] = _iso(job.completedAt)
    return data


async def job_view(jobs: JobService, user_id: str, job_id: str) -> dict[str, Any]:
    """A job's public view for a record that names it (import, batch); ``failed`` when
    Temporal no longer knows it (e.g. past the namespace's retention)."""
    try:
        job, _state = await jobs.get(user_id, job_id)
    except JobNotFound:
        return {
            "status": "failed",
            "progress": 0,
            "message": "Job not found in Temporal",
            "createdAt": None,
            "completedAt": None,
        }
    return job_public(job)


async def _apply_notes(request: Request, jobs: list[Job]) -> None:
    if not jobs:
        return
    by_id = await job_note_repo.notes_for(services(request).db, [j.id for j in jobs])
    for job in jobs:
        note = by_id.get(job.id)
        if note is not None and note.user_id == job.userId:
            job.message = note.message


async def _nothing() -> None:
    return None


async def _jobs_payload(
    request: Request, user_id: str | None, q: JobQuery, *, with_jobs: bool = True
) -> dict[str, Any]:
    jobs_service = services(request).jobs
    f = _filter(user_id, q)
    # A user's own listing adds their use of each quota to the statistics (in parallel).
    usage = services(request).fair.usage(user_id) if user_id is not None else _nothing()
    try:
        if with_jobs:
            page, stats, quotas = await asyncio.gather(
                jobs_service.list(f, limit=q.limit, page_token=q.pageToken),
                jobs_service.statistics(f),
                usage,
            )
        else:
            page = None
            stats, quotas = await asyncio.gather(jobs_service.statistics(f), usage)
    except ValueError as exc:
        raise BadRequest(str(exc), code="INVALID_QUERY") from exc
    statistics = stats.model_dump()
    if quotas is None:
        statistics.pop("quotas", None)
    else:
        statistics["quotas"] = quotas
    data: dict[str, Any] = {"statistics": statistics}
    if page is not None:
        await _apply_notes(request, page.jobs)
        data["jobs"] = [job_public(j) for j in page.jobs]
        data["pagination"] = {
            "limit": q.limit,
            "nextPageToken": page.next_page_token,
            "hasMore": page.next_page_token is not None,
        }
    return data


@operation(
    "List your jobs with statistics",
    tag="Jobs",
    scope="users:read",
    query=JobQuery,
    responses={200: JobsResponse, 400: None},
    global_key=False,
)
async def user_jobs(request: Request) -> JSONResponse:
    user_id = require_user(request, "users:read", LEGACY_ROUTE, USER_JOBS_DENIED)
    q = bodies.query_model(request, JobQuery)
    data = await _jobs_payload(request, user_id, q)
    return JSONResponse({"userId": user_id, "success": True, "data": data})


async def _get_job(request: Request, user_id: str, job_id: str) -> dict[str, Any]:
    try:
        job, state = await services(request).jobs.get(user_id, job_id)
    except JobNotFound as exc:
        raise NotFound("Job not found", code="JOB_NOT_FOUND") from exc
    await _apply_notes(request, [job])
    data = job_public(job)
    if state is not None:
        data["result"], data["error"] = state.result, state.error
    return data


@operation("Get one job", tag="Jobs", scope="users:read", responses={200: JobResponse, 404: None})
async def one_job(request: Request) -> JSONResponse:
    principal = require(request, "users:read", message=USER_JOBS_DENIED)
    user_id = required_user(principal, request.query_params.get("userId"))
    data = await _get_job(request, user_id, request.path_params["job_id"])
    return JSONResponse({"userId": user_id, "success": True, "data": data})


@operation(
    "Cancel a job",
    tag="Jobs",
    scope="jobs:update",
    responses={202: JobCancelResponse, 404: None, 409: None},
)
async def cancel_job(request: Request) -> JSONResponse:
    principal = require(request, "jobs:update")
    user_id = required_user(principal, request.query_params.get("userId"))
    job_id = request.path_params["job_id"]
    try:
        await services(request).jobs.cancel(user_id, job_id)
    except JobNotFound as exc:
        raise NotFound("Job not found", code="JOB_NOT_FOUND") from exc
    except JobAlreadyFinished as exc:
        raise Conflict("Job has already finished", code="JOB_ALREADY_FINISHED") from exc
    return JSONResponse(
        {
            "userId": user_id,
            "success": True,
            "message": "Cancellation requested",
            "data": {"id": job_id, "status": "cancelling"},
        },
        status_code=202,
    )


@operation(
    "A user's jobs (legacy route; global keys name the user)",
    tag="Jobs",
    scope="users:read",
    query=JobQuery,
    responses={200: JobsResponse, 400: None},
)
async def legacy_user_job_status(request: Request) -> JSONResponse:
    principal = require(request, "users:read", message=USER_JOBS_DENIED)
    user_id = acting_user(principal, request.path_params["user_id"])
    q = bodies.query_model(request, JobQuery)
    data = await _jobs_payload(request, user_id, q)
    return JSONResponse({"userId": user_id, "success": True, "data": data})


@operation(
    "Jobs (legacy route)",
    tag="Jobs",
    scope="jobs:read",
    query=JobQuery,
    responses={200: JobsResponse, 400: None},
)
async def legacy_job_status(request: Request) -> JSONResponse:
    principal = require(request, "jobs:read")
    q = bodies.query_model(request, JobQuery)
    user_id = acting_user(principal, q.userId)
    data = await _jobs_payload(request, user_id, q)
    return JSONResponse({"userId": user_id, "success": True, "data": data})


@operation(
    "Job statistics (legacy route)",
    tag="Jobs",
    scope="jobs:read",
    query=JobQuery,
    responses={200: JobsResponse, 400: None},
)
async def legacy_job_counts(request: Request) -> JSONResponse:
    principal = require(request, "jobs:read")
    q = bodies.query_model(request, JobQuery)
    user_id = acting_user(principal, q.userId)
    data = await _jobs_payload(request, user_id, q, with_jobs=False)
    return JSONResponse({"userId": user_id, "success": True, "data": data})


@operation(
    "Set a job's message (legacy route)",
    tag="Jobs",
    scope="jobs:update",
    body=EditMessage,
    responses={200: JobResponse, 404: None},
)
async def legacy_edit_job_message(request: Request) -> JSONResponse:
    principal = require(request, "jobs:update")
    data = await bodies.read(request, EditMessage)
    user_id = required_user(principal, data.userId)
    job_id = request.path_params["job_id"]
    try:
        await services(request).jobs.get(user_id, job_id)
    except JobNotFound as exc:
        raise NotFound("Job not found", code="JOB_NOT_FOUND") from exc
    await job_note_repo.set_note(services(request).db, job_id, user_id, data.message)
    job = await _get_job(request, user_id, job_id)
    return JSONResponse({"userId": user_id, "success": True, "data": job})


routes = [
    Route("/api/v2/users/jobs", user_jobs, methods=["GET"]),
    Route("/api/v2/users/jobs/userJobStatus/{user_id}", legacy_user_job_status, methods=["GET"]),
    Route("/api/v2/users/jobs/jobStatus", legacy_job_status, methods=["GET"]),
    Route("/api/v2/users/jobs/jobCounts", legacy_job_counts, methods=["GET"]),
    Route("/api/v2/users/jobs/editJobMessage/{job_id}", legacy_edit_job_message, methods=["PUT"]),
    Route("/api/v2/users/jobs/{job_id}", one_job, methods=["GET"]),
    Route("/api/v2/users/jobs/{job_id}", cancel_job, methods=["DELETE"]),
]
