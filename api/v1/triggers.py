"""Inbound trigger URLs of workflows (the /api/v1 family): make or rotate, read, delete, and
the public URL itself, which starts an execution with the request body as its input."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api import bodies
from api.errors import BadRequest
from api.limits import PayloadTooLarge
from api.spec import operation
from api.state import services
from api.v1 import runs
from api.v1.acting import user_for
from api.v1.workflow_schemas import ExecuteResponse, reply
from api.v1.workflows import MAX_IDEMPOTENCY_KEY
from engine.services.triggers import TriggerService
from store.db import as_utc

TAG = "Workflows"


class TriggerCreated(BaseModel):
    workflowId: str
    url: str
    token: str
    preview: str
    createdAt: datetime


class TriggerView(BaseModel):
    workflowId: str
    preview: str
    createdAt: datetime


def _service(request: Request) -> TriggerService:
    s = services(request)
    return TriggerService(s.settings, s.db, s.vault, s.jobs)


@operation(
    "Make (or rotate) a workflow's trigger URL",
    tag=TAG,
    scope="workflows:write",
    responses={201: TriggerCreated, 404: None},
    description="The URL (with its secret, shown once) starts an execution when anything "
    "POSTs to it, the JSON body as input; no API key needed. Calling again rotates it.",
)
async def create_trigger(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:write")
    made = await _service(request).create(user_id, request.path_params["id"])
    return reply(
        TriggerCreated(
            workflowId=made.row.workflow_id,
            url=made.url,
            token=made.token,
            preview=made.row.preview,
            createdAt=as_utc(made.row.created_at),  # type: ignore[arg-type]
        ),
        201,
    )


@operation(
    "Get a workflow's trigger",
    tag=TAG,
    scope="workflows:read",
    responses={200: TriggerView, 404: None},
)
async def get_trigger(request: Request) -> JSONResponse:
    user_id = await user_for(request, "workflows:read")
    row = await _service(request).get(user_id, request.path_params["id"])
    return reply(
        TriggerView(
            workflowId=row.workflow_id,
            preview=row.preview,
            createdAt=as_utc(row.created_at),  # type: ignore[arg-type]
        )
    )


@operation(
    "Delete a workflow's trigger",
    tag=TAG,
    scope="workflows:write",
    responses={204: None, 404: None},
)
async def delete_trigger(request: Request) -> Response:
    user_id = await user_for(request, "workflows:write")
    await _service(request).remove(user_id, request.path_params["id"])
    return Response(status_code=204)


@operation(
    "Trigger a workflow from a webhook",
    tag=TAG,
    responses={202: ExecuteResponse, 400: None, 404: None, 413: None, 422: None},
    description="Public: the token in the path is the secret. A JSON object body is the "
    'input (another JSON value arrives as {"body": value}); at most '
    "`workflow_trigger_max_bytes` (256 KB by default). Honours Idempotency-Key.",
)
async def fire_trigger(request: Request) -> JSONResponse:
    s = services(request)
    raw = await request.body()
    if len(raw) > s.settings.workflow_trigger_max_bytes:
        raise PayloadTooLarge(s.settings.workflow_trigger_max_bytes)
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        raise BadRequest(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    body = await bodies.json_body(request)
    started = await _service(request).fire(
        request.path_params["id"], request.path_params["token"], body, key
    )
    headers = {"Idempotent-Replayed": "true"} if started.replayed else None
    return reply(runs.started(started), 202, headers)


routes = [
    Route("/api/v1/workflows/{id}/trigger", create_trigger, methods=["POST"]),
    Route("/api/v1/workflows/{id}/trigger", get_trigger, methods=["GET"]),
    Route("/api/v1/workflows/{id}/trigger", delete_trigger, methods=["DELETE"]),
    Route("/api/v1/workflows/{id}/trigger/{token}", fire_trigger, methods=["POST"]),
]
