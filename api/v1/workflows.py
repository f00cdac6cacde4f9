"""Workflows (workflows API): define, list, read, update, delete, copy and execute.

A definition is validated when saved (422 naming the step and field); each
change of definition adds a version, and an execution keeps the version it
started with. Public workflows can be listed, read and copied by anyone, but
only their owner runs them — a copy runs with the copier's own credentials.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.errors import BadRequest
from api.spec import operation
from api.state import services
from api.v1 import runs, workflow_defs
from api.v1.acting import user_for
from api.v1.workflow_schemas import (
    Deleted,
    ExecuteBody,
    ExecuteResponse,
    WorkflowCopy,
    WorkflowCreate,
    WorkflowDetail,
    WorkflowListQuery,
    WorkflowSummary,
    WorkflowUpdate,
    reply,
)
from engine.services.workflow_defs import WorkflowChange, WorkflowSpec
from store import workflow_repo

TAG = "Workflows"
MAX_IDEMPOTENCY_KEY = 255


async def _body(request: Request, model: type[bodies.M]) -> bodies.M:
    raw = await bodies.json_body(request)
    workflow_defs.check(raw)
    return bodies.validate(model, raw)


@operation(
    "List workflows",
    tag=TAG,
    scope="workflows:read",
    query=WorkflowListQuery,
    responses={200: list[WorkflowSummary]},
    description="Your workflows, newest first; `public=true` lists every public one.",
)
async def list_workflows(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    q = bodies.query_model(request, WorkflowListQuery)
    rows = await workflow_repo.list_workflows(
        services(request).db, user_id, public=q.public, limit=q.limit, offset=q.offset
    )
    return reply([workflow_defs.summary(r, user_id) for r in rows])


@operation(
    "Create a workflow",
    tag=TAG,
    scope="workflows:write",
    body=WorkflowCreate,
    responses={201: WorkflowDetail, 400: None, 422: None},
    description="The definition is validated: unknown step type or action, a reference "
    "to a missing step, a cycle or missing required config is a 422 naming the step "
    "and field.",
)
async def create_workflow(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:write")
    data = await _body(request, WorkflowCreate)
    spec = WorkflowSpec(
        name=data.name,
        description=data.description,
        definition=data.definition,
        is_public=data.isPublic,
    )
    row, version = await workflow_defs.service(request).create(user_id, spec)
    return reply(workflow_defs.detail(row, version, user_id), 201)


@operation(
    "Get a workflow",
    tag=TAG,
    scope="workflows:read",
    responses={200: WorkflowDetail, 404: None},
    description="Your own or a public workflow. Sealed secrets show as ********.",
)
async def get_workflow(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    row, version = await workflow_repo.load(
        services(request).db, user_id, request.path_params["id"], visible=True
    )
    return reply(workflow_defs.detail(row, version, user_id))


@operation(
    "Update a workflow",
    tag=TAG,
    scope="workflows:write",
    body=WorkflowUpdate,
    responses={200: WorkflowDetail, 404: None, 422: None},
    description="A changed definition becomes a new version; running executions "
    "keep theirs, and the workflow's schedules move to the new one.",
)
async def update_workflow(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:write")
    data = await _body(request, WorkflowUpdate)
    change = WorkflowChange(
        name=data.name,
        description=data.description,
        set_description="description" in data.model_fields_set,
        definition=data.definition,
        is_public=data.isPublic,
    )
    row, version = await workflow_defs.service(request).update(
        user_id, request.path_params["id"], change
    )
    return reply(workflow_defs.detail(row, version, user_id))


@operation(
    "Delete a workflow",
    tag=TAG,
    scope="workflows:write",
    responses={200: Deleted, 404: None},
    description="Its schedules are deleted too; executions already running finish.",
)
async def delete_workflow(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:write")
    workflow_id = request.path_params["id"]
    await workflow_defs.service(request).remove(user_id, workflow_id)
    return reply(Deleted(id=workflow_id))


@operation(
    "Copy a workflow",
    tag=TAG,
    scope="workflows:write",
    body=WorkflowCopy,
    responses={201: WorkflowDetail, 404: None},
    description="Copies your own or a public workflow into a new private one. Another "
    "owner's credential ids, connector ids and sealed secrets are not copied.",
)
async def copy_workflow(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:write")
    data = await bodies.read(request, WorkflowCopy)
    row, version = await workflow_defs.service(request).copy(
        user_id, request.path_params["id"], data.name
    )
    return reply(workflow_defs.detail(row, version, user_id), 201)


@operation(
    "Execute a workflow",
    tag=TAG,
    scope="workflows:execute",
    body=ExecuteBody,
    responses={202: ExecuteResponse, 404: None, 409: None, 422: None},
    description="Starts one `workflow_run` job. Send an `Idempotency-Key` header to "
    "make retries of this call return the same execution (a different body with the "
    "same key is a 409).",
)
async def execute_workflow(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:execute")
    data = await bodies.read(request, ExecuteBody)
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        raise BadRequest(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    started = await runs.service(request).execute(
        user_id, request.path_params["id"], data.input, key, data.priority
    )
    headers = {"Idempotent-Replayed": "true"} if started.replayed else None
    return reply(runs.started(started), 202, headers)


routes = [
    Route("/api/v1/workflows", list_workflows, methods=["GET"]),
    Route("/api/v1/workflows", create_workflow, methods=["POST"]),
    Route("/api/v1/workflows/{id}", get_workflow, methods=["GET"]),
    Route("/api/v1/workflows/{id}", update_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{id}", delete_workflow, methods=["DELETE"]),
    Route("/api/v1/workflows/{id}/copy", copy_workflow, methods=["POST"]),
    Route("/api/v1/workflows/{id}/execute", execute_workflow, methods=["POST"]),
]
