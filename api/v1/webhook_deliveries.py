"""The delivery log: list and read deliveries with every attempt, retry one,
recover every failed delivery since a time. Deliveries are also ``webhook_delivery``
jobs in ``/api/v2/users/jobs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.errors import BadRequest
from api.spec import operation
from api.state import services
from api.v1.acting import user_for
from api.v1.webhooks import TAG, UserQuery, iso, service
from engine.services.deliveries import DeliveryLog
from store.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent


class DeliveryQuery(BaseModel):
    status: Literal["pending", "retrying", "succeeded", "failed", "cancelled"] | None = None
    event: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)
    userId: str | None = Field(default=None, max_length=64)


class RecoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="ISO 8601 with a time zone, e.g. 2024-01-01T00:00:00Z")
    userId: str | None = Field(default=None, max_length=64)


class DeliveryPublic(BaseModel):
    id: str
    webhookId: str
    event: str
    eventId: str
    status: str
    attempts: int
    round: int
    lastStatusCode: int | None
    lastError: str | None
    nextAttemptAt: datetime | None
    createdAt: datetime
    updatedAt: datetime
    completedAt: datetime | None


class AttemptPublic(BaseModel):
    round: int
    attempt: int
    startedAt: datetime
    statusCode: int | None
    durationMs: int
    responseSnippet: str | None
    error: str | None


class Pagination(BaseModel):
    limit: int
    nextCursor: str | None
    hasMore: bool


class DeliveryPage(BaseModel):
    data: list[DeliveryPublic]
    pagination: Pagination


class DeliveryDetail(DeliveryPublic):
    payload: dict[str, Any] | None = Field(description="the body as sent: {event, timestamp, data}")
    attemptLog: list[AttemptPublic]


class Redelivery(BaseModel):
    success: bool
    deliveryId: str
    round: int
    status: str


class Recovery(BaseModel):
    success: bool
    recovered: int
    deliveryIds: list[str]
    hasMore: bool


def delivery_public(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhookId": row.endpoint_id,
        "event": row.event,
        "eventId": row.event_id,
        "status": row.status,
        "attempts": row.attempts,
        "round": row.round,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "nextAttemptAt": iso(row.next_attempt_at),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "completedAt": iso(row.completed_at),
    }


def attempt_public(row: WebhookAttempt) -> dict[str, Any]:
    return {
        "round": row.round,
        "attempt": row.attempt,
        "startedAt": iso(row.started_at),
        "statusCode": row.status_code,
        "durationMs": row.duration_ms,
        "responseSnippet": row.response_snippet,
        "error": row.error,
    }


def payload_public(event: WebhookEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"event": event.name, "timestamp": iso(event.occurred_at), "data": event.data}


def log(request: Request) -> DeliveryLog:
    s = services(request)
    return DeliveryLog(service(request), s.temporal, s.events.starter, s.jobs.tokens)


@operation(
    "List an endpoint's deliveries, newest first (filter by status and event)",
    tag=TAG,
    scope="webhooks:read",
    query=DeliveryQuery,
    responses={200: DeliveryPage},
)
async def list_deliveries(request: Request) -> JSONResponse:
    require(request, "webhooks:read")
    q = bodies.query_model(request, DeliveryQuery)
    user_id = await user_for(request, "webhooks:read", q.userId)
    try:
        rows, cursor = await log(request).page(
            user_id,
            request.path_params["id"],
            status=q.status,
            event=q.event,
            limit=q.limit,
            cursor=q.cursor,
        )
    except ValueError as exc:
        raise BadRequest("Invalid cursor", code="INVALID_QUERY") from exc
    return JSONResponse(
        {
            "data": [delivery_public(r) for r in rows],
            "pagination": {"limit": q.limit, "nextCursor": cursor, "hasMore": cursor is not None},
        }
    )


@operation(
    "Get one delivery with every attempt",
    tag=TAG,
    scope="webhooks:read",
    query=UserQuery,
    responses={200: DeliveryDetail},
)
async def get_delivery(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:read")
    row, attempts, event = await log(request).get(
        user_id, request.path_params["id"], request.path_params["delivery_id"]
    )
    return JSONResponse(
        {
            **delivery_public(row),
            "payload": payload_public(event),
            "attemptLog": [attempt_public(a) for a in attempts],
        }
    )


@operation(
    "Deliver again (same delivery id, a new round of attempts)",
    tag=TAG,
    scope="webhooks:write",
    query=UserQuery,
    responses={202: Redelivery},
)
async def retry_delivery(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:write")
    delivery_id = request.path_params["delivery_id"]
    round_ = await log(request).retry(user_id, request.path_params["id"], delivery_id)
    return JSONResponse(
        {"success": True, "deliveryId": delivery_id, "round": round_, "status": "pending"},
        status_code=202,
    )


@operation(
    "Redeliver every failed delivery since a time",
    tag=TAG,
    scope="webhooks:write",
    body=RecoverBody,
    responses={202: Recovery},
)
async def recover(request: Request) -> JSONResponse:
    require(request, "webhooks:write")
    data = await bodies.read(request, RecoverBody)
    user_id = await user_for(request, "webhooks:write", data.userId)
    ids, more = await log(request).recover(user_id, request.path_params["id"], data.since)
    return JSONResponse(
        {"success": True, "recovered": len(ids), "deliveryIds": ids, "hasMore": more},
        status_code=202,
    )


routes = [
    Route("/api/v1/webhooks/{id}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/v1/webhooks/{id}/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", retry_delivery, methods=["POST"]),
    Route("/api/v1/webhooks/{id}/recover", recover, methods=["POST"]),
]
