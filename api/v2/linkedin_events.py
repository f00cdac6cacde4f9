"""Provider events in: ``POST /api/v2/linkedin/events/{provider}`` (the provider's webhook,
authenticated by the secret header configured on it) and, with the sandbox provider,
``POST /api/v2/linkedin/sandbox/events`` to fire one by hand."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require, required_user
from api.errors import BadRequest, NotFound, Unauthorized
from api.linkedin.campaign_models import EventReceived, SandboxEvent, SandboxEventResponse
from api.linkedin.connect import require_user_exists
from api.spec import operation
from api.state import services
from engine.services.linkedin_events import (
    PROVIDERS,
    ingest,
    parse_unipile,
    sandbox_event,
    webhook_authentic,
)
from store import linkedin as store

TAG = "LinkedIn Campaigns"
SCOPE = "linkedin:schedule"


@operation(
    "Receive a provider webhook",
    tag=TAG,
    responses={200: EventReceived, 400: None, 401: None, 404: None},
    description="Public; authenticated by the header configured on the provider's webhook "
    "(Unipile: `Unipile-Auth: <linkedin_webhook_secret>`). new_relation, message_received "
    "and account status events; a repeated event is answered `duplicate: true`.",
)
async def provider_webhook(request: Request) -> JSONResponse:
    provider = request.path_params["provider"]
    if provider not in PROVIDERS:
        raise NotFound(f"Unknown provider {provider!r}", code="UNKNOWN_PROVIDER")
    s = services(request)
    authentic = webhook_authentic(s.settings, request.headers)
    if authentic is None:
        raise Unauthorized(
            "No webhook secret is configured (TASKYARD_LINKEDIN_WEBHOOK_SECRET)",
            code="WEBHOOK_SECRET_NOT_CONFIGURED",
        )
    if not authentic:
        raise Unauthorized("Invalid webhook secret", code="INVALID_WEBHOOK_SECRET")
    body = await bodies.json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object", code="INVALID_BODY")
    event = parse_unipile(body)
    if event is None:
        return JSONResponse(EventReceived(ignored=True).model_dump())
    result = await ingest(s.db, s.temporal, s.settings, event)
    return JSONResponse(
        EventReceived(
            eventId=event.id, duplicate=result.duplicate, matched=result.matched
        ).model_dump()
    )


@operation(
    "Fire a sandbox provider event",
    tag=TAG,
    scope=SCOPE,
    body=SandboxEvent,
    responses={200: SandboxEventResponse, 400: None, 422: None},
    description="Sandbox provider only: an invitation accepted, a message received, or the "
    "account restricted, disconnected or running again, for the caller's account. The "
    "same eventId twice is one event.",
)
async def fire_sandbox_event(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, SandboxEvent)
    user_id = required_user(principal, body.userId)
    s = services(request)
    await require_user_exists(s, user_id)
    account = await store.get_account(s.db, user_id)
    if account is None or account.provider != "sandbox" or account.status != "connected":
        raise BadRequest(
            "Sandbox events need a connected sandbox LinkedIn account",
            code="LINKEDIN_NOT_SANDBOX",
        )
    event = sandbox_event(
        account.id,
        body.type,
        profile_url=body.profileUrl,
        text=body.text,
        event_id=body.eventId,
    )
    result = await ingest(s.db, s.temporal, s.settings, event)
    data = EventReceived(eventId=event.id, duplicate=result.duplicate, matched=result.matched)
    return JSONResponse({"userId": user_id, "success": True, "data": data.model_dump()})


routes = [
    Route("/api/v2/linkedin/events/{provider}", provider_webhook, methods=["POST"]),
    Route("/api/v2/linkedin/sandbox/events", fire_sandbox_event, methods=["POST"]),
]
