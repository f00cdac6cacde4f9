"""Request body limits, enforced before anything buffers a body.

A declared ``Content-Length`` over the route's limit is refused at once with 413 in the
API family's error shape; a body sent without one (chunked) is counted as it streams and
refused the moment it passes the limit. Handlers then read bodies that are known to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, BadRequest, render


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body larger than {limit} bytes")


@dataclass(frozen=True)
class RouteLimit:
    """A larger (or smaller) limit for the routes whose path starts with ``prefix``."""

    method: str
    prefix: str
    max_bytes: int


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, default_bytes: int, routes: Sequence[RouteLimit] = ()
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.routes = tuple(routes)

    def limit_for(self, method: str, path: str) -> int:
        for route in self.routes:
            if route.method == method and path.startswith(route.prefix):
                return route.max_bytes
        return self.default_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            refusal: ApiError | None = None
            if not declared.isdigit():
                refusal = BadRequest("Invalid Content-Length", code="INVALID_BODY")
            elif int(declared) > limit:
                refusal = PayloadTooLarge(limit)
            if refusal is not None:
                await render(scope["path"], refusal)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, counted, send)
