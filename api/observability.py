"""What operators see of the API: request ids, access log, Prometheus metrics, traces, and
the liveness and readiness probes (docs/observability.md).

``ObservabilityMiddleware`` wraps every request: it takes the caller's ``X-Request-Id``
(or makes one) and returns it, opens the request's log context, writes one access log
line (method, route template, status, duration, request id: never the query string or a
header), counts the request by route template, and, with tracing on, names the request's
span by its route and returns the trace id as ``X-Trace-Id``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.spec import operation
from api.state import services
from api.v2.health import checked, database_status, redis_status, temporal_status
from engine.services import logs, telemetry

access_log = logging.getLogger("taskyard.access")

TAG = "Operations"
OPS_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "taskyard_http_requests",
    "API requests by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "taskyard_http_request_duration_seconds",
    "API request latency, from the request to the end of the response, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
RATE_LIMITED = Counter(
    "taskyard_rate_limit_rejections",
    "Requests refused with 429 by the per-key rate limit, by who was limited (key or ip).",
    ["by"],
)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v2/users/jobs/{id}``), never the raw path.

    A request refused before routing (a bad key, the rate limit) is matched here."""
    route = scope.get("route")
    if route is None:
        route = _match(scope)
    if isinstance(route, Mount):
        return route.path + "/{path}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def _match(scope: Scope) -> BaseRoute | None:
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, _child = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def method_of(scope: Scope) -> str:
    """The request's method, or ``OTHER`` for one outside the standard set (a label value
    must not be whatever a client sends)."""
    method = scope["method"]
    return method if method in METHODS else "OTHER"


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: bool = True) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500  # what the client gets if the app raises before answering

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
                if telemetry.enabled():
                    self._name_span(scope, headers)
            await send(message)

        with logs.log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_ids)
            finally:
                self._record(scope, status, time.perf_counter() - started)

    @staticmethod
    def _name_span(scope: Scope, headers: MutableHeaders) -> None:
        """At the response's start (routing is done, and the request's span still open):
        the span is named by route template, and its trace id returned."""
        span = trace.get_current_span()
        if span.is_recording():
            route = route_template(scope)
            span.update_name(f"{method_of(scope)} {route}")
            span.set_attribute("http.route", route)
        trace_id = telemetry.current_trace_id()
        if trace_id:
            headers["X-Trace-Id"] = trace_id

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = method_of(scope)
        route = route_template(scope)
        if self.metrics:
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(seconds)
        access_log.info(
            "%s %s %d %.1fms",
            method,
            route,
            status,
            seconds * 1000,
            extra={
                "taskyard": {
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                }
            },
        )


def tracing_middleware(app: ASGIApp) -> ASGIApp:
    """OpenTelemetry's ASGI middleware (only built when tracing is on): the request's span,
    continuing the caller's ``traceparent``; URLs on it lose their query string."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    def scrub(span: Any, _scope: dict[str, Any]) -> None:
        telemetry.scrub_url_attributes(span)

    return OpenTelemetryMiddleware(
        app,
        tracer_provider=telemetry.tracer_provider(),
        server_request_hook=scrub,
        exclude_spans=["receive", "send"],
        excluded_urls=",".join(OPS_PATHS),
    )


# Probes and metrics --------------------------------------------------------------------


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@operation(
    "Liveness: the process is up",
    tag=TAG,
    responses={200: Liveness},
    description="No key needed; checks no dependency.",
)
async def livez(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@operation(
    "Readiness: database, Temporal and (when configured) Redis answer",
    tag=TAG,
    responses={200: Readiness, 503: Readiness},
    description="No key needed. 503 while any of them is down.",
)
async def readyz(request: Request) -> JSONResponse:
    s = services(request)
    database, temporal, redis = await asyncio.gather(
        checked(database_status(s)), checked(temporal_status(s)), checked(redis_status(s))
    )
    checks = {"database": database, "temporal": temporal, "redis": redis}
    ready = "down" not in checks.values()
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@operation(
    "Prometheus metrics of this API process",
    tag=TAG,
    responses={200: None},
    description="No key needed. Text exposition format; set TASKYARD_API_METRICS=false to "
    "turn it off.",
)
async def metrics(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


def routes(*, with_metrics: bool) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if with_metrics:
        found.append(Route("/metrics", metrics, methods=["GET"]))
    return found
