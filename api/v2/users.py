"""Users (global keys only): ``POST /api/v2/users``; an operator's fair-share settings per
user: ``PATCH /api/v2/users/{id}`` ``{fairnessWeight, quotas}`` and
``GET /api/v2/users/{id}/quotas`` (docs/fairness.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import Principal, require
from api.errors import PermissionDenied
from api.spec import operation
from api.state import services
from engine.models.fairness import MAX_WEIGHT, MIN_WEIGHT
from engine.models.quotas import QUOTA_NAMES, effective
from store import user_repo
from store.models import User
from store.quota_repo import UserNotFound


class CreateUser(BaseModel):
    email: EmailStr
    name: str = Field(default="", max_length=200)


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    createdAt: str


class UserCreated(BaseModel):
    success: bool
    userId: str
    data: UserPublic


def user_public(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "createdAt": user.created_at.isoformat().replace("+00:00", "Z"),
    }


@operation(
    "Create a user",
    tag="Users",
    scope="users:write",
    body=CreateUser,
    responses={201: UserCreated, 400: None, 403: None, 409: None, 422: None},
    global_key=True,
    description="Global keys only; give the user a key next.",
)
async def create_user(request: Request) -> JSONResponse:
    principal = require(request, "users:write")
    if not principal.is_global:
        raise PermissionDenied(
            "Creating users requires a global API key",
            required="global key with users:write",
            available=list(principal.permissions),
        )
    data = await bodies.read(request, CreateUser)
    user = await user_repo.create_user(
        services(request).db, str(data.email).lower(), data.name
    )  # an email already taken is user_repo.UserExists: 409 USER_EXISTS
    return JSONResponse(
        {"success": True, "userId": user.id, "data": user_public(user)}, status_code=201
    )


class UserLimitsPatch(BaseModel):
    """``fairnessWeight``: the user's share of busy task queues (1.0 = everyone's default;
    null drops the override). ``quotas``: per-quota overrides (0 = no cap, null drops the
    override and the setting applies again)."""

    model_config = ConfigDict(extra="forbid")

    fairnessWeight: float | None = Field(default=None, ge=MIN_WEIGHT, le=MAX_WEIGHT)
    quotas: dict[str, int | None] | None = None


class EffectiveLimits(BaseModel):
    fairnessWeight: float
    quotas: dict[str, int]


class UserLimitsView(BaseModel):
    id: str
    email: str
    name: str
    fairnessWeight: float | None = None
    quotas: dict[str, int] = Field(default_factory=dict)
    effective: EffectiveLimits


class UserLimitsResponse(BaseModel):
    success: bool
    data: UserLimitsView


def _operator(request: Request, scope: str) -> Principal:
    principal = require(request, scope)
    if not principal.is_global:
        raise PermissionDenied(
            "Changing a user's fair share requires a global API key",
            required=f"global key with {scope}",
            available=list(principal.permissions),
        )
    return principal


def limits_view(request: Request, user: User) -> dict[str, Any]:
    settings = services(request).settings
    overrides = dict(user.quotas or {})
    weight = user.fairness_weight
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "fairnessWeight": weight,
        "quotas": overrides,
        "effective": {
            "fairnessWeight": weight if weight is not None else settings.fairness_default_weight,
            "quotas": {n: effective(settings, overrides, n) for n in QUOTA_NAMES},
        },
    }


@operation(
    "Set a user's fairness weight and quota overrides",
    tag="Users",
    scope="users:write",
    body=UserLimitsPatch,
    responses={200: UserLimitsResponse, 403: None, 404: None, 422: None},
    global_key=True,
    description="Global keys only. Quotas: " + ", ".join(QUOTA_NAMES) + ".",
)
async def patch_user(request: Request) -> JSONResponse:
    _operator(request, "users:write")
    raw = await bodies.json_body(request)
    data = bodies.validate(UserLimitsPatch, raw)
    clear = isinstance(raw, dict) and "fairnessWeight" in raw and raw["fairnessWeight"] is None
    user = await services(request).fair.set_limits(
        request.path_params["user_id"],
        weight=data.fairnessWeight,
        clear_weight=clear,
        quotas=data.quotas,
    )
    return JSONResponse({"success": True, "data": limits_view(request, user)})


@operation(
    "A user's fairness weight and quotas (overrides and effective values)",
    tag="Users",
    scope="users:read",
    responses={200: UserLimitsResponse, 403: None, 404: None},
    global_key=True,
)
async def user_quotas(request: Request) -> JSONResponse:
    _operator(request, "users:read")
    user = await user_repo.get_user(services(request).db, request.path_params["user_id"])
    if user is None:
        raise UserNotFound()
    return JSONResponse({"success": True, "data": limits_view(request, user)})


routes = [
    Route("/api/v2/users", create_user, methods=["POST"]),
    # (PATCH only: GET /api/v2/users/jobs and the integrations routes stay theirs)
    Route("/api/v2/users/{user_id}", patch_user, methods=["PATCH"]),
    Route("/api/v2/users/{user_id}/quotas", user_quotas, methods=["GET"]),
]
