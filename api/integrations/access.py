"""Who may call ``/v1/{appId}/integrations…`` and the app-integrations error codes.

Admin routes take an API key whose user owns the app (a global key may act on
any app). End-user routes also accept the app's user JWT — HS256, signed with
the app's secret, ``sub`` the end user's id, ``aud`` the app id and ``exp`` required,
its lifetime (``exp - iat``, and ``exp`` from now) at most
``TASKYARD_APP_JWT_MAX_LIFETIME_SECONDS`` — which can only ever reach that app and
that end user, and not for long. Another owner's app, like a missing one, is a 404.

Callers are authenticated from the headers alone (``authenticate``) before a route
reads its body, so an unauthenticated request's body is never read or parsed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from api.auth import principal_of, require
from api.errors import ApiError, BadRequest, NotFound, Unauthorized
from api.state import services
from store import apps

REMEDIATE_EXECUTION = "Check the tool name and parameters. Ensure the user has a connected account."
REMEDIATE_NETWORK = "The provider could not be reached or failed; retry with backoff."
MAX_END_USER_ID = 200
JWT_LEEWAY_SECONDS = 30
JWT_REMEDIATION = (
    "Sign HS256 tokens with this app's jwtSecret: sub = the end user's id, aud = the app id, "
    "exp at most TASKYARD_APP_JWT_MAX_LIFETIME_SECONDS after iat."
)


class IntegrationsNotConfigured(BadRequest):
    code = "INTEGRATIONS_NOT_CONFIGURED"


class ToolkitNotEnabled(BadRequest):
    code = "INTEGRATIONS_TOOLKIT_NOT_ENABLED"

    def __init__(self, app_id: str, toolkit: str) -> None:
        super().__init__(
            f"Toolkit {toolkit!r} is not enabled for this app",
            remediation=f"Enable it first: POST /v1/{app_id}/integrations/configure "
            f'with {{"toolkit": "{toolkit}"}}.',
        )


class ToolkitUnknown(BadRequest):
    """A toolkit slug outside the catalog."""

    code = "INTEGRATIONS_TOOLKIT_NOT_FOUND"

    def __init__(self, toolkit: str, app_id: str, *, message: str | None = None) -> None:
        super().__init__(
            message or f"Unknown toolkit {toolkit!r}",
            remediation=f"List toolkits with GET /v1/{app_id}/integrations/available.",
        )


class ExecutionFailed(ApiError):
    """422 when the call can never succeed as sent; 502 when the network or vendor failed."""

    status, code = 422, "INTEGRATIONS_EXECUTION_FAILED"

    def __init__(
        self, message: str, *, network: bool = False, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(
            message,
            details=details,
            remediation=REMEDIATE_NETWORK if network else REMEDIATE_EXECUTION,
        )
        if network:
            self.status = 502


@dataclass(frozen=True)
class AppCaller:
    """The app a call is for and, on end-user routes, the end user it acts for."""

    app: apps.App
    end_user_id: str | None
    via_jwt: bool


async def load_app(request: Request) -> apps.App:
    app = await apps.get(services(request).db, request.path_params["app_id"])
    if app is None:
        raise NotFound(
            "App not found", code="APP_NOT_FOUND", remediation="Check the appId in the URL."
        )
    return app


async def admin(request: Request, scope: str) -> apps.App:
    """Admin routes: an API key (with ``scope``) of the app's owner."""
    principal = require(request, scope)
    app = await load_app(request)
    if principal.user_id is not None and principal.user_id != app.user_id:
        raise NotFound(
            "App not found", code="APP_NOT_FOUND", remediation="Check the appId in the URL."
        )
    return app


def bearer_jwt(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if token.count(".") == 2:
            return token
    return None


def invalid_token(message: str = "Invalid user token", code: str = "INVALID_TOKEN") -> Unauthorized:
    return Unauthorized(message, code=code, remediation=JWT_REMEDIATION)


def verify_jwt(token: str, secret: bytes, app_id: str, max_lifetime: int) -> str:
    """The end user's id (``sub``) from a token the app signed for itself; 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=app_id,
            options={"require": ["sub", "exp", "aud"]},
            leeway=JWT_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized(
            "User token has expired",
            code="TOKEN_EXPIRED",
            remediation="Sign a fresh token for the end user.",
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise invalid_token(f"Invalid user token: it must carry {exc.claim}") from exc
    except jwt.PyJWTError as exc:
        raise invalid_token() from exc
    exp, iat = claims["exp"], claims.get("iat")
    too_long = exp - time.time() > max_lifetime + JWT_LEEWAY_SECONDS
    if isinstance(iat, int | float) and exp - iat > max_lifetime:
        too_long = True
    if too_long:
        raise invalid_token(
            f"User token lives longer than {max_lifetime} seconds", code="TOKEN_LIFETIME_TOO_LONG"
        )
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_END_USER_ID:
        raise invalid_token("Invalid user token: sub must be the end user's id")
    return sub


async def authenticate(request: Request, scope: str) -> AppCaller:
    """Who calls, from the headers alone: the app's user JWT (the end user is its ``sub``)
    or an API key of the app's owner holding ``scope`` (the end user comes later)."""
    token = bearer_jwt(request)
    if token is not None and principal_of_or_none(request) is None:
        app = await load_app(request)
        s = services(request)
        sub = verify_jwt(
            token,
            apps.signing_secret(s.vault, app),
            app.id,
            s.settings.app_jwt_max_lifetime_seconds,
        )
        return AppCaller(app, sub, True)
    return AppCaller(await admin(request, scope), None, False)


def acting_for(caller: AppCaller, user_id: str | None, *, required: bool) -> AppCaller:
    """The end user an authenticated call acts for: the JWT's, or ``userId`` with a key."""
    if caller.via_jwt:
        if user_id is not None and user_id != caller.end_user_id:
            raise NotFound(
                "User not found",
                code="USER_NOT_FOUND",
                remediation="Omit userId when authenticating with a user JWT.",
            )
        return caller
    if user_id is not None and (not user_id or len(user_id) > MAX_END_USER_ID):
        raise BadRequest("userId must be 1-200 characters", code="INVALID_USER_ID")
    if required and user_id is None:
        raise BadRequest(
            "userId is required when authenticating with an API key",
            code="USER_ID_REQUIRED",
            remediation="Send the end user's id as userId, or use a user JWT.",
        )
    return AppCaller(caller.app, user_id, False)


async def end_user(
    request: Request, scope: str, user_id: str | None, *, required: bool
) -> AppCaller:
    """End-user routes: the app's user JWT, or an API key (plus ``userId`` when ``required``)."""
    return acting_for(await authenticate(request, scope), user_id, required=required)


def principal_of_or_none(request: Request) -> object | None:
    try:
        return principal_of(request)
    except Unauthorized:
        return None
