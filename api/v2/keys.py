"""API keys (seed 001): create (shown once), list without secrets, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies, scopes
from api.auth import Principal, acting_user, generate_key, hash_key, preview, require
from api.errors import NotFound, PermissionDenied, Unprocessable
from api.spec import operation
from api.state import services
from store.db import as_utc, utcnow
from store.models import ApiKey, User


class CreateKey(BaseModel):
    model_config = ConfigDict(title="CreateApiKeyRequest")

    name: str = Field(min_length=1, max_length=200)
    permissions: list[str] = Field(
        min_length=1,
        json_schema_extra=cast(
            JsonDict, {"items": {"type": "string", "enum": sorted(scopes.KNOWN)}}
        ),
        description="Scopes the key grants; a key can only grant scopes its creator holds.",
    )
    userId: str | None = None
    expires_at: datetime | None = Field(
        default=None, json_schema_extra={"x-must-be": "in the future"}
    )
    description: str | None = Field(default=None, max_length=1000)

    @field_validator("permissions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in scopes.KNOWN]
        if unknown:
            raise ValueError(f"unknown permissions: {', '.join(unknown)}")
        return list(dict.fromkeys(value))


class KeyPublic(BaseModel):
    model_config = ConfigDict(title="ApiKey")

    id: str
    name: str
    description: str | None = None
    key_preview: str
    permissions: list[str]
    userId: str | None = None
    is_active: bool
    created_at: str | None = None
    expires_at: str | None = None
    last_used: str | None = None
    key: str | None = Field(default=None, description="The full key: only when created")


class KeyList(BaseModel):
    model_config = ConfigDict(title="ListApiKeysResponse")

    success: bool
    data: list[KeyPublic]
    total: int


class KeyRevoked(BaseModel):
    success: bool
    message: str
    deleted_id: str
    id: str


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def key_public(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "key_preview": row.key_preview,
        "permissions": list(row.permissions),
        "userId": row.user_id,
        "is_active": row.is_active
        and not (
            row.expires_at is not None and as_utc(row.expires_at) <= utcnow()  # type: ignore[operator]
        ),
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "last_used": _iso(row.last_used),
    }


@operation(
    "Create an API key (shown once)",
    tag="API keys",
    scope="api_keys:write",
    operation_id="create_api_key",
    body=CreateKey,
    responses={201: KeyPublic, 400: None, 403: None, 404: None, 422: None},
    description="A key can only grant scopes its creator holds.",
)
async def create_key(request: Request) -> JSONResponse:
    principal = require(request, "api_keys:write")
    data = await bodies.read(request, CreateKey)
    if data.expires_at is not None and as_utc(data.expires_at) <= utcnow():  # type: ignore[operator]
        raise Unprocessable("expires_at must be in the future")
    if not principal.is_global and not scopes.covers(list(principal.permissions), data.permissions):
        raise PermissionDenied(
            "A key cannot grant permissions it does not hold",
            required=", ".join(data.permissions),
            available=list(principal.permissions),
        )
    user_id = acting_user(principal, data.userId)
    db = services(request).db
    raw = generate_key()
    async with db.session() as session:
        if user_id is not None and await session.get(User, user_id) is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        row = ApiKey(
            user_id=user_id,
            name=data.name,
            description=data.description,
            key_hash=hash_key(raw),
            key_preview=preview(raw),
            permissions=data.permissions,
            expires_at=data.expires_at,
        )
        session.add(row)
        await session.commit()
    return JSONResponse({**key_public(row), "key": raw, "success": True}, status_code=201)


def _visible(principal: Principal, row: ApiKey) -> bool:
    return principal.is_global or row.user_id == principal.user_id


@operation(
    "List API keys (never the secret)",
    tag="API keys",
    scope="api_keys:read",
    operation_id="list_api_keys",
    responses={200: KeyList},
)
async def list_keys(request: Request) -> JSONResponse:
    principal = require(request, "api_keys:read")
    db = services(request).db
    statement = select(ApiKey).order_by(ApiKey.created_at.desc())  # type: ignore[attr-defined]
    user_filter = acting_user(principal, request.query_params.get("userId"))
    if user_filter is not None:
        statement = statement.where(ApiKey.user_id == user_filter)
    async with db.session() as session:
        rows = list((await session.exec(statement)).all())
    data = [key_public(r) for r in rows]
    return JSONResponse({"success": True, "data": data, "total": len(data)})


@operation(
    "Revoke an API key",
    tag="API keys",
    scope="api_keys:write",
    responses={200: KeyRevoked, 404: None},
)
async def revoke_key(request: Request) -> JSONResponse:
    principal = require(request, "api_keys:write")
    key_id = request.path_params["key_id"]
    db = services(request).db
    async with db.session() as session:
        row = await session.get(ApiKey, key_id)
        if row is None or not _visible(principal, row):
            raise NotFound("API key not found", code="API_KEY_NOT_FOUND")
        row.is_active = False
        row.revoked_at = row.revoked_at or utcnow()
        session.add(row)
        await session.commit()
    services(request).auth_cache.forget_key(key_id)
    return JSONResponse(
        {"success": True, "message": "API key revoked", "deleted_id": key_id, "id": key_id}
    )


routes = [
    Route("/api/v2/keys", create_key, methods=["POST"]),
    Route("/api/v2/keys", list_keys, methods=["GET"]),
    Route("/api/v2/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
