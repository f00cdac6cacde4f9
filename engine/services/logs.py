"""Structured logs for the API and the workers: one JSON object per line (or plain text).

Each line carries what it is about where that is known: ``request_id`` and ``user_id``
(the API binds them per request), ``job_id`` (bound when a request starts a job),
``workflow_id``, ``task_queue`` and ``activity`` (read from Temporal's workflow and
activity context in workers). Values are ids and names only; what a request or a job
carries (bodies, headers, parameters, secrets) is never put on a line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from temporalio import activity, workflow

# The fields a line may carry, in the order a text line shows them.
FIELDS = ("request_id", "user_id", "job_id", "workflow_id", "task_queue", "activity")

# One mutable dict per request: a handler (or a service it calls) binds a field and the
# access log line written after the response sees it, whatever task set it.
_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("taskyard_log_context", default=None)

# Loggers that say too much at INFO: httpx logs every request's full URL, and a query
# string may carry a key.
QUIET = ("httpx", "httpcore", "aiosqlite", "asyncio", "uvicorn.access")


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """A fresh context for one unit of work (a request); yields its field dict."""
    context = {k: v for k, v in fields.items() if v is not None}
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context (nothing happens outside one)."""
    context = _CONTEXT.get()
    if context is not None:
        context.update({k: v for k, v in fields.items() if v is not None})


def current() -> dict[str, Any]:
    return dict(_CONTEXT.get() or {})


def _temporal_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Workflow and activity ids from the SDK's logger extras, or from the running context."""
    found: dict[str, Any] = {}
    details = getattr(record, "temporal_workflow", None) or getattr(
        record, "temporal_activity", None
    )
    if isinstance(details, dict):
        found["workflow_id"] = details.get("workflow_id")
        found["task_queue"] = details.get("task_queue")
        if "activity_type" in details:
            found["activity"] = details["activity_type"]
        return found
    if activity.in_activity():
        info = activity.info()
        found.update(
            workflow_id=info.workflow_id, task_queue=info.task_queue, activity=info.activity_type
        )
    elif workflow.in_workflow():
        winfo = workflow.info()
        found.update(workflow_id=winfo.workflow_id, task_queue=winfo.task_queue)
    return found


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context fields of one record, ``job_id`` defaulting to the workflow id (a job's
    workflow id is its id)."""
    fields = {**_temporal_fields(record), **current()}
    if fields.get("workflow_id") and not fields.get("job_id"):
        fields["job_id"] = fields["workflow_id"]
    extra = getattr(record, "taskyard", None)
    if isinstance(extra, dict):
        fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}


def _timestamp(record: logging.LogRecord) -> str:
    seconds = int(record.created)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(context_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines, context fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = context_fields(record)
        ordered = [k for k in FIELDS if k in fields] + [k for k in fields if k not in FIELDS]
        parts = [f"{k}={fields[k]}" for k in ordered]
        return f"{line} [{' '.join(parts)}]" if parts else line


def logging_config(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for a Taskyard process (uvicorn applies it in each of
    its worker processes too)."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"taskyard": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "taskyard",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            **{name: {"level": "WARNING"} for name in QUIET},
            # uvicorn's own loggers carry handlers of their own unless told otherwise.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
        },
    }


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Set up this process's logging; in JSON the SDK's loggers leave their context out of
    the message, since it is in fields of its own."""
    import logging.config

    logging.config.dictConfig(logging_config(fmt, level))
    on_message = fmt != "json"
    workflow.logger.workflow_info_on_message = on_message
    activity.logger.activity_info_on_message = on_message
