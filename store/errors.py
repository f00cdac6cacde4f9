"""Taskyard's domain errors: what a caller asked for cannot be done.

Hierarchy (the API renders each in the family's error shape, in one place)::

    DomainError               kind, code, message, field
    ├── NotFoundError         not_found: no such thing belongs to the caller
    ├── ConflictError         conflict: the thing's state forbids it now
    │   └── StateError        an OAuth state unknown, used, expired or for another app
    ├── InvalidError          invalid: the request itself is wrong
    └── QuotaError            quota: a per-user quota is used up (403, or 429 for work in flight)

They live at the bottom of the house, beside the tables, so the store, the services and
the API raise and catch the same classes.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal["not_found", "conflict", "invalid", "quota"]


class DomainError(Exception):
    """Base of every domain error; ``code`` is the machine-readable reason."""

    kind: Kind = "invalid"
    code = "INVALID_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        if code:
            self.code = code


class NotFoundError(DomainError):
    kind = "not_found"
    code = "NOT_FOUND"


class ConflictError(DomainError):
    kind = "conflict"
    code = "CONFLICT"


class InvalidError(DomainError):
    kind = "invalid"
    code = "VALIDATION_ERROR"


class StateError(ConflictError):
    """The OAuth state is unknown, already used, expired, or for another app."""

    code = "INVALID_STATE"


class QuotaError(DomainError):
    """A per-user quota is used up; ``details`` name the quota, its limit and the current use.

    ``status`` 403 for what a user keeps or sends at once (keys, endpoints, schedules,
    request sizes), 429 for work in flight or a period's allowance, where waiting helps
    (``retry_after`` seconds, when known).
    """

    kind = "quota"
    code = "QUOTA_EXCEEDED"

    def __init__(
        self,
        message: str,
        *,
        quota: str,
        limit: int,
        current: int,
        status: int = 403,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message,
            details={"quota": quota, "limit": limit, "current": current, **(details or {})},
        )
        self.quota = quota
        self.limit = limit
        self.current = current
        self.status = status
        self.retry_after = retry_after
