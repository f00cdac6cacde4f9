"""Webhook endpoints (workflows API): create, list, read, change, delete, rotate, test,
and the event catalog.

The signing secret is returned once, on create and on rotate. Handlers
validate, call one ``WebhookService`` method, and return; the service's domain
errors become the /api/v1 error shape in ``api_error``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.spec import operation
from api.state import services
from api.v1.acting import user_for
from engine.models.events import EVENT_CATALOG
from engine.services.webhooks import (
    RESERVED_HEADERS,
    EndpointSpec,
    WebhookService,
)
from store.db import as_utc
from store.webhooks import WebhookEndpoint

TAG = "Webhooks"


def _event_names() -> list[str]:
    """Catalog names, ``*`` and ``family.*`` for every family prefix in the catalog."""
    families: set[str] = set()
    for name in EVENT_CATALOG:
        parts = name.split(".")
        families.update(".".join(parts[:i]) + ".*" for i in range(1, len(parts)))
    return [*EVENT_CATALOG, "*", *sorted(families)]


def _any_case(text: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


RESERVED = (
    "^("
    + "|".join(
        [
            *(_any_case(n) for n in sorted(RESERVED_HEADERS)),
            _any_case("x-webhook-") + ".*",
            _any_case("webhook-") + ".*",
        ]
    )
    + ")$"
)

# What ``engine.services.webhooks`` checks (check_url, check_events, check_headers).
URL_SCHEMA: JsonDict = {
    "pattern": r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?][^\s#]*)?$",
    "x-blocked-addresses": "private, loopback, link-local and metadata addresses are refused "
    "unless the operator allows them",
}
EVENTS_SCHEMA = cast(JsonDict, {"items": {"type": "string", "enum": _event_names()}})
HEADERS_SCHEMA: JsonDict = {
    "additionalProperties": {"type": "string", "maxLength": 4096, "pattern": "^[^\r\n\x00]*$"},
    "propertyNames": {
        "pattern": r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$",
        "not": {"pattern": RESERVED},
    },
    "x-reserved-headers": "names Taskyard sets itself (Content-Type, User-Agent, X-Webhook-*, "
    "webhook-*, …) cannot be overridden",
}


class RetryPolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxAttempts: int = Field(default=3, ge=1, le=20)
    backoffMs: int = Field(default=1000, ge=100, le=3_600_000)


class RetryPolicyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxAttempts: int | None = Field(default=None, ge=1, le=20)
    backoffMs: int | None = Field(default=None, ge=100, le=3_600_000)


class CreateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2048, json_schema_extra=URL_SCHEMA)
    events: list[str] = Field(min_length=1, max_length=50, json_schema_extra=EVENTS_SCHEMA)
    headers: dict[str, str] = Field(
        default_factory=dict, max_length=20, json_schema_extra=HEADERS_SCHEMA
    )
    retryPolicy: RetryPolicyBody = Field(default_factory=RetryPolicyBody)
    timeoutMs: int | None = Field(default=None, ge=1000, le=30_000)
    rateLimitPerSecond: float | None = Field(default=None, gt=0, le=1000)
    enabled: bool = True
    userId: str | None = Field(default=None, max_length=64)


class UpdateWebhook(BaseModel):
    """Only the fields sent change; ``timeoutMs``/``rateLimitPerSecond`` null clears them."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(
        default=None, min_length=1, max_length=2048, json_schema_extra=URL_SCHEMA
    )
    events: list[str] | None = Field(
        default=None, min_length=1, max_length=50, json_schema_extra=EVENTS_SCHEMA
    )
    headers: dict[str, str] | None = Field(
        default=None, max_length=20, json_schema_extra=HEADERS_SCHEMA
    )
    retryPolicy: RetryPolicyPatch | None = None
    timeoutMs: int | None = Field(default=None, ge=1000, le=30_000)
    rateLimitPerSecond: float | None = Field(default=None, gt=0, le=1000)
    enabled: bool | None = None


class WebhookPublic(BaseModel):
    id: str
    name: str
    url: str
    events: list[str]
    headers: dict[str, str]
    retryPolicy: RetryPolicyBody
    timeoutMs: int | None
    rateLimitPerSecond: float | None
    enabled: bool
    status: str = Field(description="active | error | disabled")
    disabledReason: str | None = Field(description="gone | failing | user")
    consecutiveFailures: int
    failingSince: datetime | None
    lastSuccessAt: datetime | None
    lastFailureAt: datetime | None
    lastError: str | None
    previousSecretExpiresAt: datetime | None = Field(
        description="while set, the previous secret still signs beside the current one"
    )
    createdAt: datetime
    updatedAt: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="shown only now; verify signatures with it")


class SecretRotated(BaseModel):
    id: str
    secret: str
    previousSecretExpiresAt: datetime


class CatalogEntry(BaseModel):
    name: str
    description: str


class EventCatalog(BaseModel):
    events: list[CatalogEntry]
    wildcards: list[str]


class TestQueued(BaseModel):
    success: bool
    event: str
    eventId: str
    deliveryId: str


class WebhookDeleted(BaseModel):
    success: bool
    id: str


class UserQuery(BaseModel):
    userId: str | None = Field(default=None, max_length=64)


def service(request: Request) -> WebhookService:
    s = services(request)
    return WebhookService(s.db, s.vault, s.events, s.settings, s.fair)


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def public(svc: WebhookService, row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "url": row.url,
        "events": row.events,
        "headers": svc.headers_of(row),
        "retryPolicy": {"maxAttempts": row.max_attempts, "backoffMs": row.backoff_ms},
        "timeoutMs": row.timeout_ms,
        "rateLimitPerSecond": row.rate_limit_per_second,
        "enabled": row.status != "disabled",
        "status": row.status,
        "disabledReason": row.disabled_reason,
        "consecutiveFailures": row.consecutive_failures,
        "failingSince": iso(row.failing_since),
        "lastSuccessAt": iso(row.last_success_at),
        "lastFailureAt": iso(row.last_failure_at),
        "lastError": row.last_error,
        "previousSecretExpiresAt": iso(svc.rotation_expiry(row)),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


@operation(
    "List the events webhooks can subscribe to",
    tag=TAG,
    scope="webhooks:read",
    query=UserQuery,
    responses={200: EventCatalog},
)
async def list_events(request: Request) -> JSONResponse:
    await user_for(request, "webhooks:read")
    return JSONResponse(
        {
            "events": [{"name": k, "description": v} for k, v in EVENT_CATALOG.items()],
            "wildcards": ["*", *sorted({n.rsplit(".", 1)[0] + ".*" for n in EVENT_CATALOG})],
        }
    )


@operation(
    "Create a webhook endpoint (the signing secret is shown once)",
    tag=TAG,
    scope="webhooks:write",
    body=CreateWebhook,
    responses={201: WebhookCreated},
)
async def create_webhook(request: Request) -> JSONResponse:
    require(request, "webhooks:write")
    data = await bodies.read(request, CreateWebhook)
    user_id = await user_for(request, "webhooks:write", data.userId)
    svc = service(request)
    spec = EndpointSpec(
        name=data.name,
        url=data.url,
        events=data.events,
        headers=data.headers,
        max_attempts=data.retryPolicy.maxAttempts,
        backoff_ms=data.retryPolicy.backoffMs,
        timeout_ms=data.timeoutMs,
        rate_limit_per_second=data.rateLimitPerSecond,
        enabled=data.enabled,
    )
    row, secret = await svc.create(user_id, spec)
    return JSONResponse({**public(svc, row), "secret": secret}, status_code=201)


@operation(
    "List your webhook endpoints",
    tag=TAG,
    scope="webhooks:read",
    query=UserQuery,
    responses={200: list[WebhookPublic]},
)
async def list_webhooks(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:read")
    svc = service(request)
    return JSONResponse([public(svc, row) for row in await svc.list_endpoints(user_id)])


@operation(
    "Get a webhook endpoint",
    tag=TAG,
    scope="webhooks:read",
    query=UserQuery,
    responses={200: WebhookPublic},
)
async def get_webhook(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:read")
    svc = service(request)
    row = await svc.get(user_id, request.path_params["id"])
    return JSONResponse(public(svc, row))


@operation(
    "Change a webhook endpoint (only the fields sent; enabled=true re-enables)",
    tag=TAG,
    scope="webhooks:write",
    body=UpdateWebhook,
    query=UserQuery,
    responses={200: WebhookPublic},
)
async def update_webhook(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:write")
    data = await bodies.read(request, UpdateWebhook)
    sent = data.model_fields_set
    policy = data.retryPolicy or RetryPolicyPatch()
    spec = EndpointSpec(
        name=data.name,
        url=data.url,
        events=data.events,
        headers=data.headers,
        max_attempts=policy.maxAttempts,
        backoff_ms=policy.backoffMs,
        timeout_ms=data.timeoutMs,
        rate_limit_per_second=data.rateLimitPerSecond,
        enabled=data.enabled,
        clear_timeout="timeoutMs" in sent and data.timeoutMs is None,
        clear_rate_limit="rateLimitPerSecond" in sent and data.rateLimitPerSecond is None,
    )
    svc = service(request)
    row = await svc.update(user_id, request.path_params["id"], spec)
    return JSONResponse(public(svc, row))


@operation(
    "Delete a webhook endpoint (its delivery log is kept)",
    tag=TAG,
    scope="webhooks:write",
    query=UserQuery,
    responses={200: WebhookDeleted},
)
async def delete_webhook(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:write")
    endpoint_id = request.path_params["id"]
    await service(request).delete(user_id, endpoint_id)
    return JSONResponse({"success": True, "id": endpoint_id})


@operation(
    "Issue a new signing secret; the old one keeps signing beside it for 24 hours",
    tag=TAG,
    scope="webhooks:write",
    query=UserQuery,
    responses={200: SecretRotated},
)
async def rotate_secret(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:write")
    endpoint_id = request.path_params["id"]
    secret, expires = await service(request).rotate_secret(user_id, endpoint_id)
    return JSONResponse(
        {"id": endpoint_id, "secret": secret, "previousSecretExpiresAt": iso(expires)}
    )


@operation(
    "Send a webhook.test event to this endpoint",
    tag=TAG,
    scope="webhooks:write",
    query=UserQuery,
    responses={202: TestQueued},
)
async def test_webhook(request: Request) -> JSONResponse:
    user_id = await user_for(request, "webhooks:write")
    event_id, delivery_id = await service(request).send_test(user_id, request.path_params["id"])
    return JSONResponse(
        {"success": True, "event": "webhook.test", "eventId": event_id, "deliveryId": delivery_id},
        status_code=202,
    )


routes = [
    Route("/api/v1/webhooks/events", list_events, methods=["GET"]),
    Route("/api/v1/webhooks", create_webhook, methods=["POST"]),
    Route("/api/v1/webhooks", list_webhooks, methods=["GET"]),
    Route("/api/v1/webhooks/{id}", get_webhook, methods=["GET"]),
    Route("/api/v1/webhooks/{id}", update_webhook, methods=["PATCH"]),
    Route("/api/v1/webhooks/{id}", delete_webhook, methods=["DELETE"]),
    Route("/api/v1/webhooks/{id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/api/v1/webhooks/{id}/test", test_webhook, methods=["POST"]),
]
