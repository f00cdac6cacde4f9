"""Authentication and rate limiting for every request, as one ASGI middleware.

A key, when sent, is resolved here (an invalid one is refused at once, and an
address past ``invalid_key_attempts_per_minute`` invalid keys gets 429 without a
lookup); the route checks scopes. Every response carries the ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import key_from_headers, resolve
from api.codec import PREFIX as CODEC_PREFIX
from api.codec import session_key
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
        headers = Headers(scope=scope)
        raw = key_from_headers(headers)
        if raw is None and path.startswith(CODEC_PREFIX):
            raw = session_key(headers)  # the codec sign-in cookie counts on /codec/ only
        client = scope.get("client")
        address = client[0] if client else "-"
        principal = None
        if raw:
            cache = state["auth_cache"]
            principal = cache.get(raw)
            if principal is None:
                # An address guessing keys is stopped before it costs a database lookup.
                guard = await state["bad_keys"].peek(f"ip:{address}")
                if not guard.allowed:
                    refusal = RateLimited(
                        f"Too many invalid API keys from this address: at most {guard.limit} "
                        "per minute",
                        code="TOO_MANY_INVALID_KEYS",
                        headers={"Retry-After": guard.headers()["Retry-After"]},
                    )
                    await render(path, refusal)(scope, receive, send)
                    return
                generation = cache.generation  # before the lookup: see AuthCache
                try:
                    principal, expires_at = await resolve(state["db"], raw)
                except ApiError as err:
                    await state["bad_keys"].hit(f"ip:{address}")
                    # Every response carries the limit headers, a refused key's too (counted
                    # against the caller's address).
                    refused = await state["limiter"].hit(f"ip:{address}")
                    err.headers = {**refused.headers(), **err.headers}
                    await render(path, err)(scope, receive, send)
                    return
                cache.put(raw, principal, expires_at, generation=generation)
            logs.bind(user_id=principal.user_id)
        scope["taskyard.principal"] = principal
        if principal is not None and principal.is_global and path.startswith(CODEC_PREFIX):
            # The Temporal UI decodes one request per event field: an operator browsing a
            # long history would soon exceed a per-key limit sized for API clients.
            await self.app(scope, receive, send)
            return
        identity = f"key:{principal.key_id}" if principal else f"ip:{address}"
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
