"""API keys (the keys API of /api/v2): create (shown once), list without secrets, revoke.

Minting rules: a new key's scopes must be covered by the caller's own; only a global key
holding ``*`` mints global keys; a key never outlives the key that minted it; revoking a
key revokes every key minted from it; a user holds at most ``max_active_keys_per_user``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies, scopes
from api.auth import acting_user, generate_key, hash_key, preview, require
from api.errors import PermissionDenied, QuotaExceeded, Unauthorized, Unprocessable
from api.spec import operation
from api.state import services
from store import key_repo
from store.db import as_utc, utcnow
from store.models import ApiKey


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
    description=(
        "A key can only grant scopes its creator holds; only a global key holding `*` "
        "creates global keys. A key never outlives its creator: without `expires_at` it "
        "takes the creator's expiry, a later one answers 422 `EXPIRES_AFTER_PARENT`. "
        "Past the per-user limit of active keys the answer is 403 `QUOTA_EXCEEDED`."
    ),
)
async def create_key(request: Request) -> JSONResponse:
    principal = require(request, "api_keys:write")
    data = await bodies.read(request, CreateKey)
    if data.expires_at is not None and as_utc(data.expires_at) <= utcnow():  # type: ignore[operator]
        raise Unprocessable("expires_at must be in the future")
    if not scopes.covers(list(principal.permissions), data.permissions):
        raise PermissionDenied(
            "A key cannot grant permissions it does not hold",
            required=", ".join(data.permissions),
            available=list(principal.permissions),
        )
    user_id = acting_user(principal, data.userId)
    if user_id is None and not (principal.is_global and scopes.ALL in principal.permissions):
        raise PermissionDenied(
            "Only a global key holding * can create global keys: name a userId",
            required="global key with *",
            available=list(principal.permissions),
        )
    svc = services(request)
    raw = generate_key()
    new = key_repo.NewKey(
        user_id=user_id,
        name=data.name,
        description=data.description,
        key_hash=hash_key(raw),
        key_preview=preview(raw),
        permissions=data.permissions,
        expires_at=data.expires_at,
    )
    try:
        row = await key_repo.create_key(
            svc.db,
            new,
            parent_key_id=principal.key_id,
            # (the operator's per-user override, else max_active_keys_per_user; 0: no cap)
            max_active_per_user=(await svc.fair.limit(user_id, "activeApiKeys") or None)
            if user_id is not None
            else None,
        )
    except key_repo.KeyQuotaExceeded as exc:  # a limit, not a conflict: 403, not 409
        raise QuotaExceeded(exc.message, details=exc.details) from exc
    except key_repo.ParentKeyInactive as exc:  # revoked while this call was in flight
        raise Unauthorized("Invalid or revoked API key", code="INVALID_API_KEY") from exc
    return JSONResponse({**key_public(row), "key": raw, "success": True}, status_code=201)


@operation(
    "List API keys (never the secret)",
    tag="API keys",
    scope="api_keys:read",
    operation_id="list_api_keys",
    responses={200: KeyList},
)
async def list_keys(request: Request) -> JSONResponse:
    principal = require(request, "api_keys:read")
    user_filter = acting_user(principal, request.query_params.get("userId"))
    rows = await key_repo.list_keys(services(request).db, user_filter)
    data = [key_public(r) for r in rows]
    return JSONResponse({"success": True, "data": data, "total": len(data)})


@operation(
    "Revoke an API key",
    tag="API keys",
    scope="api_keys:write",
    responses={200: KeyRevoked, 404: None},
    description="Also revokes every key created with it, and those created with them.",
)
async def revoke_key(request: Request) -> JSONResponse:
    principal = require(request, "api_keys:write")
    key_id = request.path_params["key_id"]
    svc = services(request)
    revoked = await key_repo.revoke_key(svc.db, key_id, user_id=principal.user_id)
    svc.auth_cache.forget_keys(revoked)
    return JSONResponse(
        {"success": True, "message": "API key revoked", "deleted_id": key_id, "id": key_id}
    )


routes = [
    Route("/api/v2/keys", create_key, methods=["POST"]),
    Route("/api/v2/keys", list_keys, methods=["GET"]),
    Route("/api/v2/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
