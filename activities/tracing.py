"""Spans around vendor calls that no HTTP instrumentation sees (Slack's aiohttp, SMTP).

Off by default: with no tracer set (tracing not configured) ``vendor_span`` is a null
context and costs nothing. ``engine.services.telemetry`` sets the tracer when tracing is on.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry.trace import SpanKind, Tracer

_tracer: Tracer | None = None


def set_tracer(tracer: Tracer | None) -> None:
    global _tracer
    _tracer = tracer


def vendor_span(name: str, attributes: dict[str, Any]) -> AbstractContextManager[Any]:
    """A client span for one vendor call (attribute values are names, never user data)."""
    if _tracer is None:
        return nullcontext()
    return _tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)
