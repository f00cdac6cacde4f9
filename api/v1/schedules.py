"""Workflow schedules: cron + IANA time zone, input, overlap policy, pause and resume.

Built on Temporal Schedules (visible in the Temporal UI); every run is an
ordinary execution of the workflow's current version.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.spec import operation
from api.state import services
from api.v1.acting import user_for
from api.v1.workflow_schemas import (
    Deleted,
    ScheduleCreate,
    ScheduleList,
    SchedulePatch,
    ScheduleView,
    Triggered,
    reply,
)
from engine.services.workflow_schedules import (
    ScheduleChange,
    ScheduleInfo,
    ScheduleSpec,
    WorkflowSchedules,
)
from store.db import as_utc

TAG = "Schedules"


def _service(request: Request) -> WorkflowSchedules:
    s = services(request)
    return WorkflowSchedules(s.settings, s.db, s.vault, s.jobs)


def view(info: ScheduleInfo) -> ScheduleView:
    row, status = info.row, info.status
    return ScheduleView(
        id=row.id,
        workflowId=row.workflow_id,
        cron=row.cron,
        timezone=row.timezone,
        input=row.input,
        overlapPolicy=status.overlap_policy,  # type: ignore[arg-type]
        paused=status.paused,
        note=row.note,
        nextRunTimes=status.next_run_times,
        recentExecutions=status.recent_executions,
        runningExecutions=status.running_executions,
        createdAt=as_utc(row.created_at),
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


@operation(
    "Schedule a workflow",
    tag=TAG,
    scope="workflows:execute",
    body=ScheduleCreate,
    responses={201: ScheduleView, 404: None, 422: None},
    description="overlapPolicy: skip (default), buffer_one, allow_all or cancel_previous "
    "(cancel the run still going). The response lists the next run times.",
)
async def create_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:execute")
    data = await bodies.read(request, ScheduleCreate)
    spec = ScheduleSpec(
        cron=data.cron,
        timezone=data.timezone,
        input=data.input,
        overlap=data.overlapPolicy,
        paused=data.paused,
        note=data.note,
    )
    info = await _service(request).create(user_id, request.path_params["id"], spec)
    return reply(view(info), 201)


@operation(
    "List a workflow's schedules",
    tag=TAG,
    scope="workflows:read",
    responses={200: ScheduleList, 404: None},
)
async def list_schedules(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    infos = await _service(request).of_workflow(user_id, request.path_params["id"])
    return reply(ScheduleList(schedules=[view(i) for i in infos]))


@operation(
    "Get a schedule", tag=TAG, scope="workflows:read", responses={200: ScheduleView, 404: None}
)
async def get_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    return reply(view(await _service(request).get(user_id, request.path_params["id"])))


@operation(
    "Change, pause or resume a schedule",
    tag=TAG,
    scope="workflows:execute",
    body=SchedulePatch,
    responses={200: ScheduleView, 404: None, 422: None},
    description="Send only what changes; `paused: true` pauses, `paused: false` resumes.",
)
async def patch_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:execute")
    data = await bodies.read(request, SchedulePatch)
    change = ScheduleChange(
        cron=data.cron,
        timezone=data.timezone,
        input=data.input,
        overlap=data.overlapPolicy,
        paused=data.paused,
        note=data.note,
        set_note="note" in data.model_fields_set,
    )
    return reply(view(await _service(request).change(user_id, request.path_params["id"], change)))


@operation(
    "Delete a schedule", tag=TAG, scope="workflows:execute", responses={200: Deleted, 404: None}
)
async def delete_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:execute")
    await _service(request).remove(user_id, request.path_params["id"])
    return reply(Deleted(id=request.path_params["id"]))


@operation(
    "Run a schedule now",
    tag=TAG,
    scope="workflows:execute",
    responses={202: Triggered, 404: None},
    description="One extra run now, subject to the overlap policy.",
)
async def trigger_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:execute")
    await _service(request).trigger(user_id, request.path_params["id"])
    return reply(Triggered(id=request.path_params["id"]), 202)


routes = [
    Route("/api/v1/workflows/{id}/schedules", create_schedule, methods=["POST"]),
    Route("/api/v1/workflows/{id}/schedules", list_schedules, methods=["GET"]),
    Route("/api/v1/schedules/{id}", get_schedule, methods=["GET"]),
    Route("/api/v1/schedules/{id}", patch_schedule, methods=["PATCH"]),
    Route("/api/v1/schedules/{id}", delete_schedule, methods=["DELETE"]),
    Route("/api/v1/schedules/{id}/trigger", trigger_schedule, methods=["POST"]),
]
