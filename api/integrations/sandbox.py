"""The app-integrations sandbox: its consent page and what its vendors were sent.

With no vendor OAuth client configured, ``connect`` sends the end user to
``GET /v1/{appId}/integrations/sandbox/authorize`` (public, like a vendor's
consent page): it approves at once (``decision=deny`` refuses) and redirects to
the normal callback with a code, exactly as the vendor would. Sandbox Gmail
sends, Slack and Discord posts and calendar events are kept, never delivered;
``GET /v1/{appId}/integrations/sandbox/outbox`` lists them (the app owner's API
key: the app's, filter with ``userId``; an end user's JWT: that end user's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from api import bodies
from api.errors import BadRequest
from api.integrations.access import end_user, load_app
from api.integrations.connections import with_query
from api.spec import operation
from api.state import services
from engine.services import app_integrations
from store import connections, sandbox_repo
from store.db import as_utc

TAG = "Integrations"
# Large fields a sandbox vendor keeps for its own answers, not for the outbox listing.
HIDDEN_FIELDS = frozenset({"raw"})


class AuthorizeQuery(BaseModel):
    client_id: str = ""
    redirect_uri: str = ""
    response_type: str = ""
    state: str = Field(default="", max_length=200)
    scope: str | None = None
    decision: Literal["allow", "deny"] = "allow"


class OutboxQuery(BaseModel):
    userId: str | None = Field(default=None, max_length=200)
    toolkit: str | None = Field(default=None, max_length=60)
    kind: str | None = Field(default=None, max_length=60)
    limit: int = Field(default=50, ge=1, le=200)


class OutboxItem(BaseModel):
    id: str
    toolkit: str
    kind: str
    userId: str
    connectionId: str
    executionId: str | None
    remoteId: str
    data: dict[str, Any]
    createdAt: datetime
    updatedAt: datetime


class Outbox(BaseModel):
    sandbox: bool = True
    items: list[OutboxItem]


def invalid_state(app_id: str, reason: str) -> BadRequest:
    return BadRequest(
        f"Invalid OAuth state: {reason}",
        code="INTEGRATIONS_INVALID_STATE",
        remediation=f"Start again with POST /v1/{app_id}/integrations/connect.",
    )


@operation(
    "Sandbox consent page: approve (or refuse) a sandbox connection",
    tag=TAG,
    operation_id="integrations_sandbox_authorize",
    query=AuthorizeQuery,
    description="Public; the authUrl of a sandbox connect. Redirects (302) to the callback "
    "with code and state, or error=access_denied with decision=deny.",
)
async def authorize(request: Request) -> RedirectResponse:
    app = await load_app(request)
    q = bodies.query_model(request, AuthorizeQuery)
    s = services(request)
    if q.response_type != "code" or q.client_id != app_integrations.SANDBOX_CLIENT_ID:
        raise BadRequest(
            "Expected response_type=code and the sandbox client_id",
            code="INVALID_REQUEST",
            remediation="Open the authUrl that connect returned, unchanged.",
        )
    callback = app_integrations.callback_url(s.settings, app.id)
    if q.redirect_uri != callback:
        raise BadRequest(
            "redirect_uri does not match this app's callback",
            code="INVALID_REQUEST",
            remediation="Open the authUrl that connect returned, unchanged.",
        )
    try:
        params = await app_integrations.sandbox_consent(
            s.db, app.id, q.state, approve=q.decision == "allow"
        )
    except connections.StateError as exc:
        raise invalid_state(app.id, exc.message) from exc
    return RedirectResponse(with_query(callback, **params), status_code=302)


def outbox_item(row: sandbox_repo.SandboxRecord) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        toolkit=row.toolkit,
        kind=row.kind,
        userId=row.end_user_id,
        connectionId=row.connection_id,
        executionId=row.execution_id,
        remoteId=row.remote_id,
        data={k: v for k, v in row.data.items() if k not in HIDDEN_FIELDS},
        createdAt=as_utc(row.created_at),  # type: ignore[arg-type]
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


@operation(
    "List what sandbox connections sent (emails, posts, events), newest first",
    tag=TAG,
    scope="integrations:read",
    query=OutboxQuery,
    responses={200: Outbox},
    description="Auth: the app's user JWT (that end user's), or an API key (the app's; "
    "filter with userId). kind: gmail.message, slack.message, slack.reaction, "
    "discord.message, calendar.event.",
)
async def outbox(request: Request) -> JSONResponse:
    q = bodies.query_model(request, OutboxQuery)
    caller = await end_user(request, "integrations:read", q.userId, required=False)
    rows = await sandbox_repo.list_for_app(
        services(request).db,
        caller.app.id,
        end_user_id=caller.end_user_id,
        toolkit=q.toolkit,
        kind=q.kind,
        limit=q.limit,
    )
    body = Outbox(items=[outbox_item(r) for r in rows])
    return JSONResponse(body.model_dump(mode="json"))


routes = [
    Route("/v1/{app_id}/integrations/sandbox/authorize", authorize, methods=["GET"]),
    Route("/v1/{app_id}/integrations/sandbox/outbox", outbox, methods=["GET"]),
]
