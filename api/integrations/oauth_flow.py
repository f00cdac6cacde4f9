"""End users' OAuth consent in the browser (the app-integrations API): the start URL and
the callback.

``connect`` answers with the start URL as ``authUrl``. Opening it binds the state to
that browser (``api.browser_binding``: an HttpOnly cookie with a nonce whose hash is
stored with the state, once) and redirects to the vendor's consent page or the
sandbox's. The vendor sends the end user back to ``callback``, which checks the state
and the cookie before using the state, seals the code and hands its id to the
connection's workflow (which trades it for tokens and keeps them fresh), then sends the
end user to the ``redirectUrl`` registered with the state — if the app and the operator
still allow it, else it answers JSON. A state that is unknown, used, expired or from
another browser is a 400, never a redirect.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api import bodies, browser_binding
from api.errors import BadRequest, Unavailable
from api.integrations.access import load_app
from api.integrations.connections import connection_service, may_return_to, with_query
from api.spec import operation
from api.state import services
from engine.models.connections import AuthorizeInput
from engine.services import app_integrations, catalog
from engine.services.app_integrations import callback_url
from engine.services.connections import ConnectionRequestClosed
from engine.services.sealing import seal
from store import connections
from store.db import as_utc, utcnow

TAG = "Integrations"


def invalid_state(app_id: str, reason: str) -> BadRequest:
    return BadRequest(
        f"Invalid OAuth state: {reason}",
        code="INTEGRATIONS_INVALID_STATE",
        remediation=f"Start again with POST /v1/{app_id}/integrations/connect.",
    )


def browser_mismatch(app_id: str) -> BadRequest:
    return BadRequest(
        "This connection was started in another browser (or its cookie is missing)",
        code="INTEGRATIONS_BROWSER_MISMATCH",
        remediation=f"Start again with POST /v1/{app_id}/integrations/connect and open "
        "its authUrl in the browser that completes the consent.",
    )


def cookie_path(app_id: str) -> str:
    return f"/v1/{app_id}/integrations"


class StartQuery(BaseModel):
    state: str = Field(min_length=1, max_length=200)


@operation(
    "Start an end user's OAuth consent in this browser",
    tag=TAG,
    operation_id="integrations_start",
    query=StartQuery,
    responses={302: None, 400: None},
    description="Public: the authUrl of connect. Binds the state to this browser (an "
    "HttpOnly cookie) and redirects (302) to the vendor's consent page, or the sandbox's. "
    "400 INTEGRATIONS_INVALID_STATE for an unknown, used or expired state; 400 "
    "INTEGRATIONS_BROWSER_MISMATCH when another browser started it.",
)
async def start(request: Request) -> RedirectResponse:
    app = await load_app(request)
    q = bodies.query_model(request, StartQuery)
    s = services(request)
    try:
        oauth_request, row = await connections.pending_request(s.db, app.id, q.state)
    except connections.StateError as exc:
        raise invalid_state(app.id, exc.message) from exc
    digest = oauth_request.state_hash
    nonce: str | None = browser_binding.presented(request, digest)
    if oauth_request.browser_hash is not None:
        if not browser_binding.matches(nonce, oauth_request.browser_hash):
            raise browser_mismatch(app.id)
        nonce = None
    else:
        nonce = browser_binding.new_nonce()
        if not await connections.bind_browser(s.db, q.state, browser_binding.nonce_hash(nonce)):
            raise browser_mismatch(app.id)
    kit = catalog.toolkit(row.toolkit)
    if kit is None or kit.oauth_client is None:
        raise invalid_state(app.id, "not an OAuth connection")
    mode: app_integrations.Mode = "sandbox" if row.provider == "sandbox" else "vendor"
    if mode == "vendor" and kit.oauth_client not in s.settings.oauth_clients():
        raise Unavailable(
            f"{kit.name} OAuth is not configured on this server", code="SERVICE_UNAVAILABLE"
        )
    target = app_integrations.authorization_url(
        s.settings, kit, mode, app_id=app.id, state=q.state, scopes=row.scopes
    )
    response = RedirectResponse(target, status_code=302)
    if nonce is not None:
        left = (as_utc(oauth_request.expires_at) - utcnow()).total_seconds()  # type: ignore[operator]
        browser_binding.set_cookie(
            response,
            digest,
            nonce,
            path=cookie_path(app.id),
            max_age=int(left) + 1,
            base_url=s.settings.api_base_url,
        )
    return response


@operation(
    "OAuth callback: completes the connection and sends the user back",
    tag=TAG,
    description="Public, in the browser that opened the start URL (its cookie is "
    "required: 400 INTEGRATIONS_BROWSER_MISMATCH without it). Redirects (302) to the "
    "redirectUrl registered with the state, with connectionId and status (ACTIVE or "
    "FAILED) added to its query (and sandbox=true for a sandbox connection); answers JSON "
    "instead if that URL is no longer allowed. An unknown state is a 400, never a redirect.",
)
async def callback(request: Request) -> Response:
    app = await load_app(request)
    params = request.query_params
    state, code = params.get("state", ""), params.get("code")
    s = services(request)
    try:
        pending, _row = await connections.pending_request(s.db, app.id, state)
    except connections.StateError as exc:
        raise invalid_state(app.id, exc.message) from exc
    digest = pending.state_hash
    if not browser_binding.matches(
        browser_binding.presented(request, digest), pending.browser_hash
    ):
        raise browser_mismatch(app.id)
    try:
        oauth_request, row = await connections.consume_state(s.db, app.id, state)
    except connections.StateError as exc:
        raise invalid_state(app.id, exc.message) from exc
    redirect_uri = callback_url(s.settings, app.id)
    if code:
        sealed_id = await seal(s.db, s.vault, app.user_id, {"code": code[:4096]})
        handoff = AuthorizeInput(redirect_uri=redirect_uri, sealed_code_id=sealed_id)
    else:
        error = (params.get("error") or "no authorization code")[:100]
        handoff = AuthorizeInput(redirect_uri=redirect_uri, error=error)
    status: str
    try:
        outcome = await connection_service(request).authorize(row.id, handoff)
        status, reason = outcome.status, outcome.reason
    except ConnectionRequestClosed:
        current = await connections.get(s.db, row.id)
        status = current.status if current is not None else "FAILED"
        reason = current.status_reason if current is not None else "connection removed"
    extra = {"error": reason or "failed"} if status != "ACTIVE" else {}
    if row.provider == "sandbox":
        extra["sandbox"] = "true"
    result = {"connectionId": row.id, "status": status, **extra}
    response: Response
    if may_return_to(s.settings, app, oauth_request.redirect_url):
        location = with_query(oauth_request.redirect_url, **result)
        response = RedirectResponse(location, status_code=302)
    else:
        response = JSONResponse(result)
    browser_binding.clear_cookie(
        response, digest, path=cookie_path(app.id), base_url=s.settings.api_base_url
    )
    return response


routes = [
    Route("/v1/{app_id}/integrations/start", start, methods=["GET"]),
    Route("/v1/{app_id}/integrations/callback", callback, methods=["GET"]),
]
