"""Turning connector errors into Temporal activity failures, in one place."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)

_FAMILY = (AuthError, InvalidInputError, NotFoundError, RateLimitedError, TransientError)


def error_type(exc: ConnectorError) -> str:
    """The family member's name (``BlockedAddressError`` reports as ``InvalidInputError``)."""
    for cls in _FAMILY:
        if isinstance(exc, cls):
            return cls.__name__
    return "ConnectorError"


def to_application_error(exc: Exception) -> ApplicationError:
    """Permanent connector errors fail without retry; transient ones retry (rate limits wait)."""
    if isinstance(exc, ValidationError):
        return ApplicationError(
            f"invalid input: {exc.errors(include_url=False, include_input=False)}",
            type="InvalidInputError",
            non_retryable=True,
        )
    if isinstance(exc, RateLimitedError):
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return ApplicationError(exc.message, type="RateLimitedError", next_retry_delay=delay)
    if isinstance(exc, ConnectorError):
        return ApplicationError(exc.message, type=error_type(exc), non_retryable=not exc.retryable)
    return ApplicationError(f"{type(exc).__name__}: {exc}", type="InternalError")
