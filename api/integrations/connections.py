"""End users' connections (the app-integrations API): connect, the OAuth callback, list,
disconnect.

OAuth toolkits (Gmail, Google Calendar, Slack, Discord): ``connect`` stores an
INITIATED connection with a single-use, expiring state (kept hashed) and starts
its ``ConnectionWorkflow``; the ``authUrl`` is Taskyard's start URL
(``api.integrations.oauth_flow``: it binds the state to the browser, sends it to the
vendor's consent page or the sandbox's, and its callback completes the connection).
The connection says which (``sandbox``). ``redirectUrl`` must be one of the app's
``redirectUrls`` (same scheme, host, port and path; the query may differ) on an
origin the operator allows. Toolkits that connect with credentials (and OAuth ones
given tokens) take them directly and are ACTIVE at once.

Callers are authenticated from the headers before the body is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.service import RPCError

from api import bodies
from api.catalog_schemas import toolkit_enum
from api.errors import BadRequest, NotFound, Unavailable
from api.integrations.access import (
    ToolkitNotEnabled,
    acting_for,
    authenticate,
    end_user,
)
from api.integrations.admin import require_installable, unknown_toolkit
from api.spec import operation
from api.state import services
from engine.services import app_integrations, catalog
from engine.services.connections import ConnectionService
from settings import Settings
from store import apps, connections
from store.db import as_utc

TAG = "Integrations"


class Connect(BaseModel):
    toolkit: str = Field(min_length=1, max_length=60, json_schema_extra=toolkit_enum)
    redirectUrl: str | None = Field(
        default=None, max_length=2000, json_schema_extra={"format": "uri"}
    )
    userId: str | None = None
    credentials: dict[str, Any] | None = None


class ConnectStarted(BaseModel):
    authUrl: str | None = None
    connectionRequestId: str
    connectionId: str | None = None
    status: str
    sandbox: bool = False


class ConnectionsQuery(BaseModel):
    userId: str | None = Field(default=None, max_length=200)
    toolkit: str | None = Field(default=None, max_length=60)
    status: Literal["INITIATED", "ACTIVE", "EXPIRED", "FAILED"] | None = None


class ConnectionPublic(BaseModel):
    id: str
    toolkit: str
    userId: str
    status: str
    statusReason: str | None
    scopes: list[str]
    expiresAt: datetime | None
    createdAt: datetime
    updatedAt: datetime
    sandbox: bool


class ConnectionList(BaseModel):
    connections: list[ConnectionPublic]


class Disconnected(BaseModel):
    success: bool
    id: str


def redirect_allowed(allowed: list[str], url: str) -> bool:
    """Same scheme, host, port and path as an allowed URL; only the query may differ."""
    try:
        wanted = urlsplit(url)
        wanted_port = wanted.port
    except ValueError:
        return False
    if wanted.fragment or wanted.scheme not in ("http", "https"):
        return False
    for candidate in allowed:
        c = urlsplit(candidate)
        if (c.scheme, c.hostname, c.port, c.path or "/") == (
            wanted.scheme,
            wanted.hostname,
            wanted_port,
            wanted.path or "/",
        ):
            return True
    return False


def may_return_to(settings: Settings, app: apps.App, url: str) -> bool:
    """One of the app's redirectUrls, on an origin the operator allows."""
    return redirect_allowed(app.redirect_urls, url) and settings.return_url_allowed(url)


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def connection_public(row: connections.Connection) -> dict[str, Any]:
    return ConnectionPublic(
        id=row.id,
        toolkit=row.toolkit,
        userId=row.end_user_id,
        status=row.status,
        statusReason=row.status_reason,
        scopes=row.scopes,
        expiresAt=as_utc(row.expires_at),
        createdAt=as_utc(row.created_at),
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
        sandbox=row.provider == "sandbox",
    ).model_dump(mode="json")


def connection_service(request: Request) -> ConnectionService:
    s = services(request)
    return ConnectionService(
        s.temporal,
        task_queue_prefix=s.settings.task_queue_prefix,
        request_ttl_seconds=s.settings.oauth_state_ttl_seconds,
        refresh_margin_seconds=s.settings.connection_refresh_margin_seconds,
    )


@operation(
    "Connect an end user's account (OAuth URL, or credentials directly)",
    tag=TAG,
    scope="integrations:write",
    body=Connect,
    responses={200: ConnectStarted},
    description="Auth: the app's user JWT, or an API key plus userId.",
)
async def connect(request: Request) -> JSONResponse:
    caller = await authenticate(request, "integrations:write")  # before reading the body
    data = await bodies.read(request, Connect)
    caller = acting_for(caller, data.userId, required=True)
    app, end_user_id = caller.app, str(caller.end_user_id)
    kit = catalog.toolkit(data.toolkit)
    if kit is None:
        raise unknown_toolkit(data.toolkit, app.id)
    s = services(request)
    enabled = await apps.toolkit(s.db, app.id, kit.type)
    if enabled is None:
        raise ToolkitNotEnabled(app.id, kit.type)
    if data.credentials is not None:
        missing = kit.missing_fields(data.credentials)
        if missing:
            raise BadRequest(
                f"Missing credential fields: {', '.join(missing)}",
                code="MISSING_CREDENTIAL_FIELDS",
                remediation=f"{kit.name} needs: " + ", ".join(kit.required_fields()),
            )
        row = await connections.create_active(
            s.db,
            s.vault,
            app_id=app.id,
            end_user_id=end_user_id,
            toolkit=kit.type,
            data=data.credentials,
        )
        return JSONResponse(
            ConnectStarted(
                connectionRequestId=row.id, connectionId=row.id, status=row.status
            ).model_dump(exclude_none=True)
        )
    if kit.oauth_client is None:
        raise credentials_required(kit, app.id)
    mode = require_installable(s.settings, kit)
    assert mode is not None  # an OAuth toolkit that is installable has a mode
    if not data.redirectUrl or not may_return_to(s.settings, app, data.redirectUrl):
        raise BadRequest(
            "redirectUrl is missing or not allowed for this app",
            code="INTEGRATIONS_REDIRECT_NOT_ALLOWED",
            remediation=f"Add it to the app's redirectUrls: PATCH /api/v1/apps/{app.id}",
        )
    row, state = await connections.create_initiated(
        s.db,
        app_id=app.id,
        end_user_id=end_user_id,
        toolkit=kit.type,
        scopes=enabled.scopes or list(kit.oauth_scopes),
        redirect_url=data.redirectUrl,
        ttl_seconds=s.settings.oauth_state_ttl_seconds,
        provider=mode,
    )
    try:
        await connection_service(request).start(
            connection_id=row.id,
            owner_user_id=app.user_id,
            app_id=app.id,
            end_user_id=end_user_id,
            toolkit=kit.type,
        )
    except RPCError as exc:  # Temporal unreachable: the request cannot complete, say so
        await connections.set_status(s.db, row.id, "FAILED", "could not start the connection")
        raise Unavailable(
            "Could not start the connection; try again", code="SERVICE_UNAVAILABLE"
        ) from exc
    auth_url = app_integrations.start_url(s.settings, app.id, state)
    started = ConnectStarted(
        authUrl=auth_url, connectionRequestId=row.id, status=row.status, sandbox=mode == "sandbox"
    )
    return JSONResponse(started.model_dump(exclude_none=True))


def credentials_required(kit: catalog.Toolkit, app_id: str) -> BadRequest:
    """A toolkit that connects with credentials was asked to connect without them."""
    fields = kit.required_fields()
    example = ", ".join(f'"{f}": "..."' for f in fields)
    return BadRequest(
        f"{kit.name} connects with credentials, not OAuth: the connect body has no credentials",
        code="CREDENTIALS_REQUIRED",
        details={"toolkit": kit.type, "requiredFields": fields},
        remediation=f"Send them as credentials: POST /v1/{app_id}/integrations/connect with "
        f'{{"toolkit": "{kit.type}", "userId": "...", "credentials": {{{example}}}}}'
        + ("" if fields else " (no field is required; send {} if nothing applies)"),
    )


@operation(
    "List connected accounts",
    tag=TAG,
    scope="integrations:read",
    query=ConnectionsQuery,
    responses={200: ConnectionList},
    description="With a user JWT: that end user's; with an API key: the app's "
    "(filter with userId).",
)
async def list_connections(request: Request) -> JSONResponse:
    q = bodies.query_model(request, ConnectionsQuery)
    caller = await end_user(request, "integrations:read", q.userId, required=False)
    rows = await connections.list_for(services(request).db, caller.app.id, caller.end_user_id)
    rows = [
        r
        for r in rows
        if (q.toolkit is None or r.toolkit == q.toolkit)
        and (q.status is None or r.status == q.status)
    ]
    return JSONResponse({"connections": [connection_public(r) for r in rows]})


@operation(
    "Disconnect an account", tag=TAG, scope="integrations:write", responses={200: Disconnected}
)
async def delete_connection(request: Request) -> JSONResponse:
    caller = await end_user(
        request, "integrations:write", request.query_params.get("userId"), required=False
    )
    db = services(request).db
    row = await connections.get(db, request.path_params["connection_id"])
    if (
        row is None
        or row.app_id != caller.app.id
        or (caller.end_user_id is not None and row.end_user_id != caller.end_user_id)
    ):
        raise NotFound(
            "Connection not found",
            code="CONNECTION_NOT_FOUND",
            remediation="List them: GET /v1/{appId}/integrations/connections.",
        )
    kit = catalog.toolkit(row.toolkit)
    if kit is not None and kit.auth_type == "oauth2":
        await connection_service(request).stop(row.id)
    await connections.delete(db, row)
    return JSONResponse(Disconnected(success=True, id=row.id).model_dump())


routes = [
    Route("/v1/{app_id}/integrations/connect", connect, methods=["POST"]),
    Route("/v1/{app_id}/integrations/connections", list_connections, methods=["GET"]),
    Route(
        "/v1/{app_id}/integrations/connections/{connection_id}",
        delete_connection,
        methods=["DELETE"],
    ),
]
