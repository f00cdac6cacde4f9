"""Who may call ``/v1/{appId}/integrations…`` and the app-integrations error codes.

Admin routes take an API key whose user owns the app (a global key may act on
any app). End-user routes also accept the app's user JWT — HS256, signed with
the app's secret, ``sub`` the end user's id, ``exp`` and ``aud`` (= the app id)
checked when present — which can only ever reach that app and that end user.
Another owner's app, like a missing one, is a 404.
"""

from __future__ import annotations

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


def verify_jwt(token: str, secret: bytes, app_id: str) -> str:
    """The end user's id (``sub``) from a token the app signed; 401 for anything else."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=app_id if "aud" in unverified else None,
            options={"require": ["sub"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized(
            "User token has expired",
            code="TOKEN_EXPIRED",
            remediation="Sign a fresh token for the end user.",
        ) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(
            "Invalid user token",
            code="INVALID_TOKEN",
            remediation="Sign HS256 tokens with this app's jwtSecret; "
            "sub must be the end user's id.",
        ) from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_END_USER_ID:
        raise Unauthorized(
            "Invalid user token: sub must be the end user's id", code="INVALID_TOKEN"
        )
    return sub


async def end_user(
    request: Request, scope: str, user_id: str | None, *, required: bool
) -> AppCaller:
    """End-user routes: the app's user JWT, or an API key (plus ``userId`` when ``required``)."""
    token = bearer_jwt(request)
    if token is not None and principal_of_or_none(request) is None:
        app = await load_app(request)
        sub = verify_jwt(token, apps.signing_secret(services(request).vault, app), app.id)
        if user_id is not None and user_id != sub:
            raise NotFound(
                "User not found",
                code="USER_NOT_FOUND",
                remediation="Omit userId when authenticating with a user JWT.",
            )
        return AppCaller(app, sub, True)
    app = await admin(request, scope)
    if user_id is not None and (not user_id or len(user_id) > MAX_END_USER_ID):
        raise BadRequest("userId must be 1-200 characters", code="INVALID_USER_ID")
    if required and user_id is None:
        raise BadRequest(
            "userId is required when authenticating with an API key",
            code="USER_ID_REQUIRED",
            remediation="Send the end user's id as userId, or use a user JWT.",
        )
    return AppCaller(app, user_id, False)


def principal_of_or_none(request: Request) -> object | None:
    try:
        return principal_of(request)
    except Unauthorized:
        return None
