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
from api.v1 import schedule_ops
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

TAG = "Schedules"


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
    view = await schedule_ops.create(services(request), user_id, request.path_params["id"], data)
    return reply(view, 201)


@operation(
    "List a workflow's schedules",
    tag=TAG,
    scope="workflows:read",
    responses={200: ScheduleList, 404: None},
)
async def list_schedules(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    views = await schedule_ops.for_workflow(services(request), user_id, request.path_params["id"])
    return reply(ScheduleList(schedules=views))


@operation(
    "Get a schedule", tag=TAG, scope="workflows:read", responses={200: ScheduleView, 404: None}
)
async def get_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    s = services(request)
    return reply(
        await schedule_ops.view(s, await schedule_ops.owned(s, user_id, request.path_params["id"]))
    )


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
    return reply(
        await schedule_ops.patch(services(request), user_id, request.path_params["id"], data)
    )


@operation(
    "Delete a schedule", tag=TAG, scope="workflows:execute", responses={200: Deleted, 404: None}
)
async def delete_schedule(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:execute")
    await schedule_ops.remove(services(request), user_id, request.path_params["id"])
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
    await schedule_ops.trigger(services(request), user_id, request.path_params["id"])
    return reply(Triggered(id=request.path_params["id"]), 202)


routes = [
    Route("/api/v1/workflows/{id}/schedules", create_schedule, methods=["POST"]),
    Route("/api/v1/workflows/{id}/schedules", list_schedules, methods=["GET"]),
    Route("/api/v1/schedules/{id}", get_schedule, methods=["GET"]),
    Route("/api/v1/schedules/{id}", patch_schedule, methods=["PATCH"]),
    Route("/api/v1/schedules/{id}", delete_schedule, methods=["DELETE"]),
    Route("/api/v1/schedules/{id}/trigger", trigger_schedule, methods=["POST"]),
]
