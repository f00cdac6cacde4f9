"""Authentication and rate limiting for every request, as one ASGI middleware.

A key, when sent, is resolved here (an invalid one is refused at once); the
route checks scopes. Every response carries the ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import key_from_headers, resolve
from api.errors import ApiError, RateLimited, render
from api.observability import OPS_PATHS, RATE_LIMITED
from engine.services import logs


class AuthRateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        path = scope["path"]
        if path in OPS_PATHS:  # probes and scrapes: no key, never rate limited
            await self.app(scope, receive, send)
            return
        raw = key_from_headers(Headers(scope=scope))
        principal = None
        if raw:
            cache = state["auth_cache"]
            principal = cache.get(raw)
            if principal is None:
                try:
                    principal, expires_at = await resolve(state["db"], raw)
                except ApiError as err:
                    await render(path, err)(scope, receive, send)
                    return
                cache.put(raw, principal, expires_at)
            logs.bind(user_id=principal.user_id)
        scope["taskyard.principal"] = principal
        client = scope.get("client")
        identity = f"key:{principal.key_id}" if principal else f"ip:{client[0] if client else '-'}"
        decision = await state["limiter"].hit(identity)
        limit_headers = decision.headers()
        if not decision.allowed:
            RATE_LIMITED.labels("key" if principal else "ip").inc()
            refusal = RateLimited(
                f"Rate limit exceeded: {decision.limit} requests per minute",
                headers=limit_headers,
            )
            await render(path, refusal)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in limit_headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
