"""Executions (workflows API): read one, list, cancel, retry (optionally from a step).

Executions are ``workflow_run`` jobs, so they also appear in
``/api/v2/users/jobs``. Another user's execution is a 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.errors import BadRequest
from api.spec import operation
from api.v1 import runs
from api.v1.acting import user_for
from api.v1.workflow_schemas import (
    CancelResponse,
    EventAccepted,
    ExecuteResponse,
    ExecutionAction,
    ExecutionEvent,
    ExecutionList,
    ExecutionListQuery,
    ExecutionView,
    StepOutputView,
    reply,
)

TAG = "Executions"


@operation(
    "List executions",
    tag=TAG,
    scope="executions:read",
    query=ExecutionListQuery,
    responses={200: ExecutionList, 400: None},
    description="Newest first; filter by `workflowId` and `status`; page with "
    "`pageToken` from the previous page.",
)
async def list_executions(request: Request) -> JSONResponse:
    user_id = await user_for(request, "executions:read")
    q = bodies.query_model(request, ExecutionListQuery)
    try:
        page = await runs.service(request).list(
            user_id,
            workflow_id=q.workflowId,
            status=q.status,
            limit=q.limit,
            page_token=q.pageToken,
        )
    except ValueError as exc:
        raise BadRequest(str(exc), code="INVALID_QUERY") from exc
    return reply(runs.listing(page, q.limit))


@operation(
    "Get an execution",
    tag=TAG,
    scope="executions:read",
    responses={200: ExecutionView, 404: None},
    description="Status, progress (finished steps / steps), each step's status, "
    "attempts, output or error and timestamps, and the final output. Outputs too large "
    'for history show as {"$ref", "size"}; fetch them from the step-output route.',
)
async def get_execution(request: Request) -> JSONResponse:
    user_id = await user_for(request, "executions:read")
    state, _running = await runs.service(request).state(user_id, request.path_params["id"])
    return reply(runs.view(state))


@operation(
    "Cancel or retry an execution",
    tag=TAG,
    scope="executions:write",
    body=ExecutionAction,
    responses={202: ExecuteResponse, 404: None, 409: None, 422: None},
    description='`{"action": "cancel"}` cancels running steps and starts no '
    'more (answers `{executionId, status: "cancelling"}`). `{"action": "retry"}` '
    "starts a new execution with the same input and version; with `fromStep`, the "
    "steps before it that succeeded are reused, not run again. Retrying runs the "
    "workflow again, so it also needs the `workflows:execute` scope.",
)
async def act_on_execution(request: Request) -> JSONResponse:
    user_id = await user_for(request, "executions:write")
    data = await bodies.read(request, ExecutionAction)
    execution_id = request.path_params["id"]
    if data.action == "cancel":
        if data.fromStep is not None:
            raise BadRequest("fromStep only goes with action retry", code="INVALID_ACTION")
        await runs.service(request).cancel(user_id, execution_id)
        return reply(CancelResponse(executionId=execution_id, status="cancelling"), 202)
    # A retry starts a run like POST /workflows/{id}/execute does, so it needs that scope too.
    require(request, "workflows:execute")
    started = await runs.service(request).retry(user_id, execution_id, data.fromStep)
    return reply(runs.started(started), 202)


@operation(
    "Send an event to an execution",
    tag=TAG,
    scope="executions:write",
    body=ExecutionEvent,
    responses={202: EventAccepted, 404: None, 409: None, 422: None},
    description="Resumes the execution's `wait_for_event` step waiting for `name` (an "
    "event sent before that step starts waits for it): approvals, external triggers. "
    "`payload` (at most 64 KB) becomes the step's output.",
)
async def send_event(request: Request) -> JSONResponse:
    user_id = await user_for(request, "executions:write")
    data = await bodies.read(request, ExecutionEvent)
    execution_id = request.path_params["id"]
    await runs.service(request).send_event(user_id, execution_id, data.name, data.payload, data.id)
    return reply(EventAccepted(executionId=execution_id, event=data.name, status="accepted"), 202)


@operation(
    "Get one step's full output",
    tag=TAG,
    scope="executions:read",
    responses={200: StepOutputView, 404: None},
)
async def step_output(request: Request) -> JSONResponse:
    user_id = await user_for(request, "executions:read")
    execution_id, step = request.path_params["id"], request.path_params["step"]
    found = await runs.service(request).step_output(user_id, execution_id, step)
    return reply(
        StepOutputView(executionId=execution_id, step=step, output=found.output, size=found.size)
    )


routes = [
    Route("/api/v1/executions", list_executions, methods=["GET"]),
    Route("/api/v1/executions/{id}", get_execution, methods=["GET"]),
    Route("/api/v1/executions/{id}", act_on_execution, methods=["POST"]),
    Route("/api/v1/executions/{id}/events", send_event, methods=["POST"]),
    Route("/api/v1/executions/{id}/steps/{step}/output", step_output, methods=["GET"]),
]
