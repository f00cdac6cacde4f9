"""Temporal's codec server protocol, so operators read encrypted payloads in the Temporal UI.

``POST /codec/decode`` and ``POST /codec/encode`` take and return ``{"payloads": [...]}``
(protobuf JSON, bytes in base64), as the Temporal UI and ``temporal --codec-endpoint`` send
them; ``/codec/{namespace}/decode`` answers the same, for endpoints templated by namespace.
The codec opens every user's payloads, so only a global key (an operator's) holding
``codec:decode`` (``codec:encode`` to encode) or ``*`` may call it, sent as ``x-api-key``,
``Authorization: Bearer <key>`` (``temporal --codec-auth``), or the ``taskyard_codec``
cookie that signing in at ``/codec/session`` sets: the cookie is what the Temporal UI sends
when "include cross-origin credentials" is on. Browsers may call it from the Temporal UI's
origins only (``TASKYARD_TEMPORAL_UI_ORIGIN``; ``CodecCorsMiddleware`` answers preflights).
These routes speak Temporal's protocol, not a REST family's, so the OpenAPI document leaves
them out (``include_in_schema=False``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import scopes
from api.auth import Principal, require, resolve
from api.errors import ApiError, PermissionDenied
from api.state import services
from engine.services.codec import convert_json

PREFIX = "/codec/"
COOKIE = "taskyard_codec"
SESSION_SECONDS = 8 * 3600
DECODE, ENCODE = "codec:decode", "codec:encode"
ALLOWED_HEADERS = "content-type, x-namespace, authorization, x-api-key"


def session_key(headers: Headers) -> str | None:
    """The key the sign-in cookie holds, for ``/codec/`` requests only (see module doc)."""
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is no credential
        return None
    morsel = jar.get(COOKIE)
    return (morsel.value.strip() or None) if morsel else None


def _operator(principal: Principal, scope: str) -> Principal:
    if not scopes.grants(principal.permissions, scope):
        raise PermissionDenied(
            f"Insufficient permissions: the codec requires {scope}",
            required=scope,
            available=list(principal.permissions),
        )
    if not principal.is_global:
        raise PermissionDenied(
            "The codec opens every user's payloads: it takes a global (operator) key",
            required=f"global key with {scope}",
            available=list(principal.permissions),
        )
    return principal


async def _convert(request: Request, *, decode: bool) -> Response:
    _operator(require(request, DECODE if decode else ENCODE), DECODE if decode else ENCODE)
    codec = services(request).temporal.data_converter.payload_codec
    assert codec is not None  # connect() always installs Taskyard's codec
    body = await convert_json(codec, await request.body(), decode=decode)
    return Response(body, media_type="application/json")


async def decode(request: Request) -> Response:
    return await _convert(request, decode=True)


async def encode(request: Request) -> Response:
    return await _convert(request, decode=False)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Taskyard codec sign-in</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Taskyard codec</h1>
<p>{message}</p>
<form method="post" action="/codec/session">
  <label>Operator key <input type="password" name="key" autocomplete="off" size="40"></label>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/codec/session">
  <input type="hidden" name="signout" value="1"><button type="submit">Sign out</button>
</form>
<p>Then open the Temporal UI, and under its codec server settings turn on
<em>Include cross-origin credentials</em>. Allowed UI origins: {origins}.</p>
</body></html>
"""


def _page(request: Request, message: str, status: int = 200) -> HTMLResponse:
    origins = ", ".join(services(request).settings.ui_origins())
    return HTMLResponse(
        _PAGE.format(message=html.escape(message), origins=html.escape(origins)),
        status_code=status,
        headers={"cache-control": "no-store"},
    )


async def session_page(request: Request) -> HTMLResponse:
    signed_in = session_key(request.headers) is not None
    return _page(
        request,
        "This browser is signed in to the codec."
        if signed_in
        else "Sign in with a global key holding codec:decode so the Temporal UI can show "
        "decrypted payloads.",
    )


async def session(request: Request) -> HTMLResponse:
    """Sign in (form field ``key``) or out (``signout``); the cookie never reaches scripts."""
    form = parse_qs((await request.body()).decode(errors="replace"))
    secure = services(request).settings.api_base_url.startswith("https://")
    if form.get("signout"):
        response = _page(request, "Signed out.")
        response.delete_cookie(COOKIE, path="/codec", secure=secure, httponly=True)
        return response
    raw = (form.get("key") or [""])[0].strip()
    if not raw:
        return _page(request, "Enter a key.", 400)
    try:
        principal, _expires = await resolve(services(request).db, raw)
        _operator(principal, DECODE)
    except ApiError as err:
        return _page(request, f"Not signed in: {err.message}", err.status)
    response = _page(request, "Signed in: the Temporal UI can now decode payloads.")
    response.set_cookie(
        COOKIE,
        raw,
        max_age=SESSION_SECONDS,
        path="/codec",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


routes = [
    Route(path, endpoint, methods=[method], include_in_schema=False)
    for path, endpoint, method in (
        ("/codec/decode", decode, "POST"),
        ("/codec/encode", encode, "POST"),
        ("/codec/session", session_page, "GET"),
        ("/codec/session", session, "POST"),
        ("/codec/{namespace}/decode", decode, "POST"),
        ("/codec/{namespace}/encode", encode, "POST"),
    )
]


class CodecCorsMiddleware:
    """CORS for ``/codec/`` only, for the Temporal UI's origins: preflights are answered here
    (before authentication, which they cannot carry), and every answer to an allowed origin,
    errors included, says so, with credentials allowed (the sign-in cookie)."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.origins
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            reply: dict[str, str] = {"vary": "Origin"}
            if allowed:
                assert origin is not None
                reply |= {
                    "access-control-allow-origin": origin,
                    "access-control-allow-credentials": "true",
                    "access-control-allow-methods": "POST, OPTIONS",
                    "access-control-allow-headers": ALLOWED_HEADERS,
                    "access-control-max-age": "600",
                }
                if headers.get("access-control-request-private-network") == "true":
                    reply["access-control-allow-private-network"] = "true"
            await Response(status_code=204 if allowed else 403, headers=reply)(scope, receive, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["access-control-allow-origin"] = origin or ""
                out["access-control-allow-credentials"] = "true"
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, with_cors)
