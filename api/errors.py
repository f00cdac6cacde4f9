"""API errors and the one place that renders them in each API family's shape.

Hierarchy::

    ApiError                      status, code, message
    ├── BadRequest (400)
    │   └── GlobalKeyOnUserRoute  the user-integrations and jobs APIs' ``availableRoute`` body
    ├── Unauthorized (401)
    ├── PermissionDenied (403)    ``permissionHelp`` on /api/v2
    ├── QuotaExceeded (403/429)   a per-user quota is used up (429: work in flight, wait)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── Unprocessable (422)
    ├── RateLimited (429)
    └── Unavailable (503)

Domain errors (``store.errors.DomainError``) raised by services and repos are rendered here
too: not found → 404, conflict → 409, invalid → 422, quota → 403 or 429 (``QuotaError``),
with the error's own code.

Families: ``/api/v2`` → ``{"error": true, "code", "message", "version", "timestamp"}``;
``/api/v1`` → ``{"error": "message", "code"}``; ``/v1/{appId}`` →
``{"error": {"code", "message", "remediation"}}``.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from store.errors import DomainError, QuotaError

log = logging.getLogger("taskyard.api")
DOCS_URL = "https://github.com/taskyard/taskyard/blob/main/docs/authentication.md"


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.headers = headers or {}
        self.remediation = remediation


class BadRequest(ApiError):
    status, code = 400, "BAD_REQUEST"


class GlobalKeyOnUserRoute(BadRequest):
    code = "GLOBAL_KEY_NOT_ALLOWED"

    def __init__(self, available_route: str) -> None:
        super().__init__(
            "When using global API key, please use the specific route: " + available_route
        )
        self.available_route = available_route


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"


class PermissionDenied(ApiError):
    status, code = 403, "PERMISSION_DENIED"

    def __init__(self, message: str, *, required: str, available: list[str]) -> None:
        super().__init__(message)
        self.required = required
        self.available = available


class QuotaExceeded(ApiError):
    status, code = 403, "QUOTA_EXCEEDED"

    @classmethod
    def of(cls, exc: QuotaError) -> QuotaExceeded:
        """A used-up quota as the service reported it: 403, or 429 with ``Retry-After``."""
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        err = cls(exc.message, code=exc.code, details=exc.details, headers=headers)
        err.status = exc.status
        return err


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class Unprocessable(ApiError):
    status, code = 422, "VALIDATION_ERROR"


class RateLimited(ApiError):
    status, code = 429, "RATE_LIMIT_EXCEEDED"


class Unavailable(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"


def family(path: str) -> str:
    if path.startswith("/api/v2"):
        return "v2"
    if path.startswith("/api/v1"):
        return "v1"
    if path.startswith("/v1/"):
        return "app"
    return "v1"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(path: str, err: ApiError) -> dict[str, Any]:
    if isinstance(err, GlobalKeyOnUserRoute):
        return {"error": err.message, "availableRoute": err.available_route}
    fam = family(path)
    if fam == "v2":
        body: dict[str, Any] = {
            "error": True,
            "code": err.code,
            "message": err.message,
            "version": "2.0",
            "timestamp": now_iso(),
        }
        if isinstance(err, PermissionDenied):
            body["permissionHelp"] = {
                "required": err.required,
                "available": err.available,
                "documentation": DOCS_URL,
            }
        if err.details:
            body["details"] = err.details
        return body
    if fam == "app":
        inner: dict[str, Any] = {"code": err.code, "message": err.message}
        if err.remediation:
            inner["remediation"] = err.remediation
        if err.details:
            inner["details"] = err.details
        return {"error": inner}
    body = {"error": err.message, "code": err.code}
    if err.details:
        body["details"] = err.details
    return body


def render(request_path: str, err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(request_path, err), status_code=err.status, headers=err.headers)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render(request.url.path, exc)


def from_domain(exc: DomainError) -> ApiError:
    """The API error a domain error stands for (its kind gives the status)."""
    details = {"field": exc.field} if exc.field else None
    if exc.details:
        details = {**(details or {}), **exc.details}
    if exc.kind == "not_found":
        return NotFound(exc.message, code=exc.code)
    if exc.kind == "conflict":
        return Conflict(exc.message, code=exc.code, details=details)
    if isinstance(exc, QuotaError):
        return QuotaExceeded.of(exc)
    return Unprocessable(exc.message, code=exc.code, details=details)


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return render(request.url.path, from_domain(exc))


_HTTP_CODES = {404: NotFound, 405: BadRequest}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    cls = _HTTP_CODES.get(exc.status_code, ApiError)
    err = cls(str(exc.detail))
    err.status = exc.status_code
    if exc.status_code == 405:
        err.code = "METHOD_NOT_ALLOWED"
    return render(request.url.path, err)


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    err = ApiError("Internal server error", code="INTERNAL_ERROR")
    err.status = 500
    return render(request.url.path, err)


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unhandled_error_handler,
}
