"""User integrations (seed 000): status, LinkedIn connect and callback, disconnect, legacy routes.

The simplified routes take the user from a user key (a global key is pointed at
the legacy ``:userId`` route); the legacy routes take the user from the path or
body, so global keys can act for any user. The OAuth callback is public: the
single-use state is what authenticates it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api import bodies
from api.auth import acting_user, require, require_user, required_user
from api.linkedin import connect
from api.linkedin.models import (
    IntegrationsResponse,
    SetupLinkedIn,
    SetupLinkQuery,
    SetupResponse,
)
from api.spec import operation
from api.state import services

TAG = "User Integrations"
LEGACY_ROUTE = "/api/v2/users/integrations/linkedin-integration/:userId"
READ_DENIED = "Insufficient permissions for integration access"
WRITE_DENIED = "Insufficient permissions for integration management"


def _ok(user_id: str, data: Any, status: int = 200) -> JSONResponse:
    payload = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
    return JSONResponse({"userId": user_id, "success": True, "data": payload}, status_code=status)


@operation(
    "Get all integrations",
    tag=TAG,
    scope="users:read",
    global_key=False,
    responses={200: IntegrationsResponse},
    description="LinkedIn, webhooks and setup completion for the key's user.",
)
async def get_integrations(request: Request) -> JSONResponse:
    user_id = require_user(request, "users:read", LEGACY_ROUTE, READ_DENIED)
    return _ok(user_id, await connect.integrations(services(request), user_id))


@operation(
    "Get a user's integrations (legacy)",
    tag=TAG,
    scope="users:read",
    responses={200: IntegrationsResponse},
    description="Global keys may name any user; a user key only itself.",
)
async def legacy_get_integration(request: Request) -> JSONResponse:
    principal = require(request, "users:read", message=READ_DENIED)
    user_id = acting_user(principal, request.path_params["user_id"])
    assert user_id is not None
    await connect.require_user_exists(services(request), user_id)
    return _ok(user_id, await connect.integrations(services(request), user_id))


@operation(
    "Set up LinkedIn",
    tag=TAG,
    scope="users:write",
    global_key=False,
    body=SetupLinkedIn,
    responses={200: SetupResponse},
    description="Returns the sign-in URL and its single-use state; open authUrl to "
    "connect. 400 LINKEDIN_ALREADY_CONNECTED while an account is connected.",
)
async def setup_linkedin(request: Request) -> JSONResponse:
    user_id = require_user(request, "users:write", LEGACY_ROUTE, WRITE_DENIED)
    body = await bodies.read(request, SetupLinkedIn)
    return _ok(user_id, await connect.start_setup(services(request), user_id, body))


@operation(
    "Set up LinkedIn (legacy)",
    tag=TAG,
    scope="users:write",
    body=SetupLinkedIn,
    responses={200: SetupResponse},
    description="Global keys name the user with userId in the body.",
)
async def legacy_setup_linkedin(request: Request) -> JSONResponse:
    principal = require(request, "users:write", message=WRITE_DENIED)
    body = await bodies.read(request, SetupLinkedIn)
    user_id = required_user(principal, body.userId)
    return _ok(user_id, await connect.start_setup(services(request), user_id, body))


@operation(
    "Disconnect LinkedIn",
    tag=TAG,
    scope="users:write",
    global_key=False,
    responses={200: None},
    description="Drops the stored token; actions still waiting for a slot fail.",
)
async def disconnect_linkedin(request: Request) -> JSONResponse:
    user_id = require_user(request, "users:write", LEGACY_ROUTE, WRITE_DENIED)
    status = await connect.disconnect(services(request), user_id)
    return _ok(user_id, {"linkedin": status.model_dump(exclude_none=True)})


@operation("Disconnect LinkedIn (legacy)", tag=TAG, scope="users:write", responses={200: None})
async def legacy_disconnect_linkedin(request: Request) -> JSONResponse:
    principal = require(request, "users:write", message=WRITE_DENIED)
    user_id = acting_user(principal, request.path_params["user_id"])
    assert user_id is not None
    status = await connect.disconnect(services(request), user_id)
    return _ok(user_id, {"linkedin": status.model_dump(exclude_none=True)})


@operation(
    "LinkedIn OAuth callback",
    tag=TAG,
    description="Public; LinkedIn (or the sandbox) redirects the member here. Redirects "
    "to returnUrl with linkedin=connected|error, or answers JSON without one.",
)
async def linkedin_callback(request: Request) -> Response:
    target, body = await connect.finish(services(request), dict(request.query_params))
    if target is not None:
        return RedirectResponse(target, status_code=302)
    return JSONResponse(body)


@operation(
    "Open a setup link: start connecting LinkedIn in the browser",
    tag=TAG,
    query=SetupLinkQuery,
    responses={302: None, 400: None},
    description="Public: the `setupUrl` of a not-connected LinkedIn integration (a signed, "
    "short-lived link). Redirects to the sign-in page, as the `authUrl` of "
    "`POST /api/v2/users/integrations/linkedin` would.",
)
async def linkedin_setup_link(request: Request) -> Response:
    q = bodies.query_model(request, SetupLinkQuery)
    s = services(request)
    user_id = connect.setup_user(s, q.user, q.token)
    started = await connect.start_setup(s, user_id, SetupLinkedIn())
    return RedirectResponse(started.authUrl, status_code=302)


routes = [
    Route("/api/v2/users/integrations", get_integrations, methods=["GET"]),
    Route("/api/v2/users/integrations/linkedin/setup", linkedin_setup_link, methods=["GET"]),
    Route("/api/v2/users/integrations/linkedin", setup_linkedin, methods=["POST"]),
    Route("/api/v2/users/integrations/linkedin", disconnect_linkedin, methods=["DELETE"]),
    Route("/api/v2/users/integrations/linkedin/callback", linkedin_callback, methods=["GET"]),
    Route(
        "/api/v2/users/integrations/linkedin-integration/{user_id}",
        legacy_get_integration,
        methods=["GET"],
    ),
    Route(
        "/api/v2/users/integrations/linkedin-integration/{user_id}",
        legacy_disconnect_linkedin,
        methods=["DELETE"],
    ),
    Route(
        "/api/v2/users/integrations/setup-linkedin-integration",
        legacy_setup_linkedin,
        methods=["POST"],
    ),
]
