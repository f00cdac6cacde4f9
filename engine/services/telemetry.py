"""Traces (OpenTelemetry) for every Taskyard process, and the Temporal SDK's own metrics.

Tracing is off unless the standard ``OTEL_*`` variables configure an exporter
(``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). Off, nothing is installed: no tracer provider,
no Temporal interceptor, no HTTP instrumentation, so it costs nothing. On, one job is one
trace: the API request, the start of the workflow, the workflow, each activity and the
vendor call (``docs/observability.md``). Span attributes hold names and ids only: URLs
lose their query string, and no header or body is recorded.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from activities import tracing as vendor_tracing
from engine.services import logs

log = logging.getLogger("taskyard.telemetry")

JOB_ID = "taskyard.job_id"
# Outbound spans keep only a URL's origin: its path and query may hold a secret (a Discord
# webhook's token, a key in the query string) and its userinfo a password.
URL_ATTRIBUTES = ("http.url", "url.full")
PATH_ATTRIBUTES = ("http.target", "url.path", "url.query")


@dataclass
class _Tracing:
    provider: TracerProvider
    interceptor: TracingInterceptor


_state: _Tracing | None = None


def tracing_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    found: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "otlp":
            protocol = environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            )
            if protocol and protocol != "http/protobuf":
                log.warning("OTLP protocol %s is not shipped; exporting http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append(OTLPSpanExporter())
        elif name == "console":
            found.append(ConsoleSpanExporter())
        elif name != "none":
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored", name)
    return found


def setup_tracing(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install tracing from the environment (once per process); whether tracing is on.

    ``service_name`` is used unless ``OTEL_SERVICE_NAME`` (or ``OTEL_RESOURCE_ATTRIBUTES``)
    names the service.
    """
    if _state is not None:
        return True
    if not tracing_configured(environ):
        return False
    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(
        resource=Resource.create({} if named else {"service.name": service_name})
    )
    for exporter in _exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # for libraries that look the global one up
    install(provider)
    return True


def install(provider: TracerProvider) -> None:
    """Trace through ``provider`` from now on (``setup_tracing`` calls this; tests call it
    with an in-memory exporter, and ``uninstall`` afterwards)."""
    global _state
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    provider.add_span_processor(_JobIdProcessor())
    _state = _Tracing(provider, TracingInterceptor(provider.get_tracer("taskyard.temporal")))
    HTTPXClientInstrumentor().instrument(
        tracer_provider=provider, request_hook=_scrub_request, async_request_hook=_async_scrub
    )
    vendor_tracing.set_tracer(provider.get_tracer("taskyard.vendor"))


def uninstall() -> None:
    """Stop tracing in this process (what ``install`` wrapped is unwrapped)."""
    global _state
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if _state is None:
        return
    HTTPXClientInstrumentor().uninstrument()
    vendor_tracing.set_tracer(None)
    _state = None


def enabled() -> bool:
    return _state is not None


def tracer_provider() -> TracerProvider | None:
    return _state.provider if _state else None


def client_interceptors() -> list[TracingInterceptor]:
    """For ``Client.connect``: the tracing interceptor when tracing is on (workers built on
    that client inherit it)."""
    return [_state.interceptor] if _state else []


def worker_interceptors(client: Client) -> list[TracingInterceptor]:
    """For a ``Worker``: the tracing interceptor unless its client already carries it."""
    if _state is None:
        return []
    if any(isinstance(i, TracingInterceptor) for i in client.config().get("interceptors", [])):
        return []
    return [_state.interceptor]


def annotate_job(job_id: str) -> None:
    """The job a request is about: on the request's span and its log lines."""
    logs.bind(job_id=job_id)
    if _state is not None:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(JOB_ID, job_id)


def current_trace_id() -> str | None:
    """The current trace's id (32 hex digits), when tracing is on and a span is current."""
    if _state is None:
        return None
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, without userinfo, path or query."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""


def scrub_url_attributes(span: Any) -> None:
    """Rewrite a span's URL attributes to the URL's origin and blank its path and query."""
    if span is None or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and value != (origin := origin_of(value)):
            span.set_attribute(name, origin)
    for name in PATH_ATTRIBUTES:
        if attributes.get(name):
            span.set_attribute(name, "")


def _scrub_request(span: Any, _request: Any) -> None:
    scrub_url_attributes(span)


async def _async_scrub(span: Any, _request: Any) -> None:
    scrub_url_attributes(span)


class _JobIdProcessor(SpanProcessor):
    """Puts ``taskyard.job_id`` on every span that belongs to a job: Temporal's spans (the
    workflow id is the job id), spans made inside an activity (the vendor call) and spans
    of a request that started a job."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        if JOB_ID in attributes:
            return
        job_id = attributes.get("temporalWorkflowID")
        if not job_id and activity.in_activity():
            job_id = activity.info().workflow_id
        if not job_id:
            job_id = logs.current().get("job_id")
        if job_id:
            span.set_attribute(JOB_ID, str(job_id))


# The Temporal SDK's metrics (the Rust core's Prometheus exporter) -----------------------


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sdk_metrics_runtime() -> tuple[Runtime, str]:
    """A runtime whose SDK metrics are served on a private loopback port, and that port's
    URL: the worker's own metrics port serves them together with Taskyard's."""
    port = free_loopback_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{port}",
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
            )
        )
    )
    return runtime, f"http://127.0.0.1:{port}/metrics"
