"""User integrations (user-integrations API): status, LinkedIn connect and callback, disconnect,
legacy routes.

The simplified routes take the user from a user key (a global key is pointed at
the legacy ``:userId`` route); the legacy routes take the user from the path or
body, so global keys can act for any user. The start URL, the OAuth callback and
the automation provider's notify route are public: the single-use state (and, for
the browser, the cookie the start URL set) is what authenticates them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api import bodies, browser_binding
from api.auth import acting_user, require, require_user, required_user
from api.linkedin import automation, connect
from api.linkedin.models import (
    IntegrationsResponse,
    LegacySetupLinkedIn,
    SetupLinkedIn,
    SetupLinkQuery,
    SetupResponse,
    StartQuery,
)
from api.spec import operation
from api.state import services
from store.linkedin import state_hash

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
    description="Returns the sign-in URL (Taskyard's start URL, which binds the state to "
    "the browser that opens it) and its single-use state; open authUrl in the member's "
    "browser to connect. 400 LINKEDIN_ALREADY_CONNECTED while an account is connected; "
    "422 RETURN_URL_NOT_ALLOWED for a returnUrl on an origin the server does not allow.",
)
async def setup_linkedin(request: Request) -> JSONResponse:
    user_id = require_user(request, "users:write", LEGACY_ROUTE, WRITE_DENIED)
    body = await bodies.read(request, SetupLinkedIn)
    return _ok(user_id, await connect.start_setup(services(request), user_id, body))


@operation(
    "Set up LinkedIn (legacy)",
    tag=TAG,
    scope="users:write",
    body=LegacySetupLinkedIn,
    responses={200: SetupResponse},
    description="Global keys name the user with userId in the body, and may name the "
    "Unipile account to link (automationAccountId); a user key may not (422).",
)
async def legacy_setup_linkedin(request: Request) -> JSONResponse:
    principal = require(request, "users:write", message=WRITE_DENIED)
    body = await bodies.read(request, LegacySetupLinkedIn)
    user_id = required_user(principal, body.userId)
    started = await connect.start_setup(
        services(request), user_id, body, operator=principal.is_global
    )
    return _ok(user_id, started)


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
    "Start a LinkedIn sign-in in this browser",
    tag=TAG,
    query=StartQuery,
    responses={302: None, 400: None},
    description="Public: the authUrl of a setup. Binds the state to this browser (an "
    "HttpOnly cookie) and redirects to the sign-in page. 400 INVALID_OAUTH_STATE for an "
    "unknown, used or expired state; 400 OAUTH_BROWSER_MISMATCH when another browser "
    "started it.",
)
async def linkedin_start(request: Request) -> Response:
    q = bodies.query_model(request, StartQuery)
    s = services(request)
    digest = state_hash(q.state)
    nonce = browser_binding.presented(request, digest)
    target, fresh, max_age = await connect.begin(s, q.state, nonce)
    response = RedirectResponse(target, status_code=302)
    if fresh is not None:
        browser_binding.set_cookie(
            response,
            digest,
            fresh,
            path=connect.COOKIE_PATH,
            max_age=max_age,
            base_url=connect.flow_base(s),
        )
    return response


@operation(
    "LinkedIn OAuth callback",
    tag=TAG,
    description="Public; LinkedIn (or the sandbox) redirects the member here, in the "
    "browser that opened the start URL (its cookie is required: 400 "
    "OAUTH_BROWSER_MISMATCH without it). Redirects to Unipile's hosted sign-in while the "
    "automation account is to be linked, else to the registered returnUrl with "
    "linkedin=connected|error, or answers JSON without one. An unknown state is a 400, "
    "never a redirect.",
)
async def linkedin_callback(request: Request) -> Response:
    s = services(request)
    params = dict(request.query_params)
    digest = state_hash(params.get("state") or "")
    nonce = browser_binding.presented(request, digest)
    target, body = await connect.finish(s, params, nonce)
    response: Response = (
        RedirectResponse(target, status_code=302) if target is not None else JSONResponse(body)
    )
    browser_binding.clear_cookie(
        response, digest, path=connect.COOKIE_PATH, base_url=connect.flow_base(s)
    )
    return response


@operation(
    "Unipile reports the account a member linked (server to server)",
    tag=TAG,
    query=automation.NotifyQuery,
    body=automation.AutomationNotice,
    responses={200: automation.Notified, 400: None, 409: None},
    description="Public: the notify_url of the hosted sign-in link Taskyard requested; the "
    "secret state in its query authenticates it (checked before the body is read). 400 "
    "INVALID_AUTOMATION_STATE for an unknown, used or expired state or another name; "
    "409 AUTOMATION_ACCOUNT_IN_USE when another user holds the account.",
)
async def linkedin_automation_notify(request: Request) -> JSONResponse:
    q = bodies.query_model(request, automation.NotifyQuery)
    s = services(request)
    await automation.check_state(s, q.state)
    notice = await bodies.read(request, automation.AutomationNotice)
    return JSONResponse((await automation.notified(s, q.state, notice)).model_dump())


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
    Route("/api/v2/users/integrations/linkedin/start", linkedin_start, methods=["GET"]),
    Route("/api/v2/users/integrations/linkedin/callback", linkedin_callback, methods=["GET"]),
    Route(
        "/api/v2/users/integrations/linkedin/automation/notify",
        linkedin_automation_notify,
        methods=["POST"],
    ),
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
