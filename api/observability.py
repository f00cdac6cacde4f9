"""What operators see of the API: request ids, access log, Prometheus metrics, traces, and
the liveness and readiness probes (docs/observability.md).

``ObservabilityMiddleware`` wraps every request: it takes the caller's ``X-Request-Id``
(or makes one) and returns it, opens the request's log context, writes one access log
line (method, route template, status, duration, request id: never the query string or a
header), counts the request by route template, and, with tracing on, names the request's
span by its route and returns the trace id as ``X-Trace-Id``. ``TracingMiddleware``
opens that span.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
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
# The W3C trace-context and baggage headers a caller's trace continues from.
PROPAGATED_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})

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


class TracingMiddleware:
    """The request's SERVER span (only built when tracing is on), continuing the caller's
    ``traceparent``: named by method at first, by method and route template once routing
    is done (``ObservabilityMiddleware``), with the method, route, scheme and status as
    attributes.

    Deliberately not OpenTelemetry's ASGI middleware: that one records the raw path and
    client details (a trigger URL's path holds its secret token) and costs about 140 µs of
    CPU per request, several times this one. The probes and ``/metrics`` get no span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        provider = telemetry.tracer_provider()
        self.tracer = (provider or trace.get_tracer_provider()).get_tracer("taskyard.api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers") or ()
            if name in PROPAGATED_HEADERS
        }
        method = method_of(scope)
        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.scheme": scope.get("scheme", "")},
        ) as span:

            async def send_with_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, send_with_status)


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
