"""The typed errors every connector raises.

Hierarchy::

    ConnectorError
    ├── AuthError            credentials missing, invalid, expired or revoked (permanent)
    ├── InvalidInputError    the request can never succeed as sent (permanent)
    ├── NotFoundError        the remote object does not exist (permanent)
    ├── RateLimitedError     the vendor said slow down; ``retry_after`` seconds if it told us
    └── TransientError       network trouble, timeouts, 5xx: worth retrying

Activities turn the permanent ones into non-retryable ``ApplicationError`` with
``type`` set to the class name, and let the others retry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` value (delta seconds or HTTP-date) as seconds from ``now``."""
    if not value:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ConnectorError(Exception):
    """Base of every connector failure."""

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class AuthError(ConnectorError):
    """Credentials were rejected."""


class InvalidInputError(ConnectorError):
    """The input can never succeed as sent."""


class NotFoundError(ConnectorError):
    """The remote object does not exist."""


class RateLimitedError(ConnectorError):
    """The vendor asked us to slow down."""

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, status_code: int | None = 429
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class TransientError(ConnectorError):
    """A failure that may pass: network errors, timeouts, 5xx."""

    retryable = True


PERMANENT_ERROR_TYPES: tuple[str, ...] = ("AuthError", "InvalidInputError", "NotFoundError")
