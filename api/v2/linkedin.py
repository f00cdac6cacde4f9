"""LinkedIn automation: schedule actions (one job each), campaigns, the governor's settings.

Also the sandbox provider's consent page, which stands in for LinkedIn's
authorization page when ``linkedin_provider`` is ``sandbox``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from api import bodies
from api.auth import require, required_user
from api.linkedin import actions, connect
from api.linkedin.models import (
    BulkSchedule,
    BulkScheduledResponse,
    ScheduleAction,
    ScheduledResponse,
    SettingsPatch,
    SettingsResponse,
    UserQuery,
)
from api.spec import operation
from api.state import services

TAG = "LinkedIn Automation"
SCOPE = "linkedin:schedule"


@operation(
    "Schedule a LinkedIn action",
    tag=TAG,
    scope=SCOPE,
    body=ScheduleAction,
    responses={202: ScheduledResponse},
    description="Starts one linkedin_action job; it waits pending for a slot from the "
    "account's governor (caps, working hours, human-like delays).",
)
async def schedule_action(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, ScheduleAction)
    user_id = required_user(principal, body.userId)
    data = await actions.schedule(services(request), user_id, body)
    return JSONResponse(
        {"userId": user_id, "success": True, "data": data.model_dump()}, status_code=202
    )


@operation(
    "Schedule a campaign (bulk)",
    tag=TAG,
    scope=SCOPE,
    body=BulkSchedule,
    responses={202: BulkScheduledResponse},
    description="One action type for many profiles (profileUrls, inline leads or "
    "leadIds); message and note may use {{firstName}}-style lead fields.",
)
async def schedule_bulk(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, BulkSchedule)
    user_id = required_user(principal, body.userId)
    data = await actions.schedule_bulk(services(request), user_id, body)
    return JSONResponse(
        {"userId": user_id, "success": True, "data": data.model_dump()}, status_code=202
    )


@operation(
    "Get LinkedIn automation settings",
    tag=TAG,
    scope=SCOPE,
    query=UserQuery,
    responses={200: SettingsResponse},
    description="Caps, delays and working hours, plus the governor's live state.",
)
async def get_settings(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    q = bodies.query_model(request, UserQuery)
    user_id = required_user(principal, q.userId)
    data = await actions.read_settings(services(request), user_id)
    return JSONResponse({"userId": user_id, "success": True, "data": data.model_dump(mode="json")})


@operation(
    "Change LinkedIn automation settings",
    tag=TAG,
    scope=SCOPE,
    body=SettingsPatch,
    responses={200: SettingsResponse},
    description="Fields given change; limits merge per action type; workingHours null "
    "means any time. Applied to the running governor before answering.",
)
async def put_settings(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, SettingsPatch)
    user_id = required_user(principal, body.userId)
    data = await actions.change_settings(services(request), user_id, body)
    return JSONResponse({"userId": user_id, "success": True, "data": data.model_dump(mode="json")})


@operation(
    "Sandbox LinkedIn consent page",
    tag=TAG,
    description="Public; only with the sandbox provider. Approves at once and redirects "
    "to redirect_uri with code and state, as LinkedIn does.",
)
async def sandbox_authorize(request: Request) -> RedirectResponse:
    target = await connect.sandbox_consent(services(request), dict(request.query_params))
    return RedirectResponse(target, status_code=302)


routes = [
    Route("/api/v2/linkedin/actions", schedule_action, methods=["POST"]),
    Route("/api/v2/linkedin/actions/bulk", schedule_bulk, methods=["POST"]),
    Route("/api/v2/linkedin/settings", get_settings, methods=["GET"]),
    Route("/api/v2/linkedin/settings", put_settings, methods=["PUT"]),
    Route(connect.SANDBOX_AUTHORIZE_PATH, sandbox_authorize, methods=["GET"]),
]
