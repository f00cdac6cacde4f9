"""API keys: generation, hashing, lookup, and the per-route checks handlers call."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.requests import Request

from api import scopes
from api.errors import (
    BadRequest,
    GlobalKeyOnUserRoute,
    NotFound,
    PermissionDenied,
    Unauthorized,
)
from engine.services import logs
from store import key_repo
from store.db import Database, as_utc, utcnow

KEY_PREFIX = "bna_"
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user key (``user_id`` set) or a global key (``user_id`` None)."""

    key_id: str
    user_id: str | None
    permissions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_global(self) -> bool:
        return self.user_id is None


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def preview(raw: str) -> str:
    return raw[:8] + "..."


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key from ``x-api-key`` or ``Authorization: Bearer`` (starlette Headers or a dict)."""
    raw = headers.get("x-api-key")
    if raw:
        return str(raw).strip()
    authorization = headers.get("authorization")
    if authorization and authorization.lower().startswith("bearer "):
        token = str(authorization[7:]).strip()
        if token.count(".") == 2:
            return None  # an app end user's JWT (app-integrations API): the app routes verify it
        return token or None
    return None


async def resolve(db: Database, raw: str) -> tuple[Principal, datetime | None]:
    """Find an active, unexpired key; 401 otherwise. ``last_used`` is updated coarsely.

    Returns the principal and the key's expiry.
    """
    row = await key_repo.find_by_hash(db, hash_key(raw), touch_after=LAST_USED_RESOLUTION)
    if row is None or not row.is_active:
        raise Unauthorized("Invalid or revoked API key", code="INVALID_API_KEY")
    expires = as_utc(row.expires_at)
    if expires is not None and expires <= utcnow():
        raise Unauthorized("API key has expired", code="API_KEY_EXPIRED")
    principal = Principal(key_id=row.id, user_id=row.user_id, permissions=tuple(row.permissions))
    return principal, expires


class AuthCache:
    """Recently resolved keys, so a busy client is not one database read per request.

    Used only when the API runs as a single process (no Redis configured): a
    revocation in this process drops the entry at once. With Redis (several API
    processes) the cache is off, so a revocation anywhere is seen everywhere at
    once. Entries never outlive the key's own expiry.

    A lookup that read the key before a revocation committed must not put it back
    afterwards: every revocation bumps ``generation``, and ``put`` ignores an entry
    read under an older generation (take ``generation`` before the lookup).
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self.generation = 0
        self._entries: dict[str, tuple[Principal, float, datetime | None]] = {}

    def get(self, raw: str) -> Principal | None:
        entry = self._entries.get(hash_key(raw))
        if entry is None:
            return None
        principal, until, expires_at = entry
        if time.monotonic() > until or (expires_at is not None and expires_at <= utcnow()):
            self._entries.pop(hash_key(raw), None)
            return None
        return principal

    def put(
        self, raw: str, principal: Principal, expires_at: datetime | None, *, generation: int
    ) -> None:
        """Remember a key resolved by a lookup that started at ``generation``."""
        if self.ttl <= 0 or generation != self.generation:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[hash_key(raw)] = (principal, time.monotonic() + self.ttl, expires_at)

    def forget_keys(self, key_ids: Iterable[str]) -> None:
        """Call after a revocation has committed; lookups still in flight are not cached."""
        self.generation += 1
        gone = set(key_ids)
        for digest, (principal, _until, _exp) in list(self._entries.items()):
            if principal.key_id in gone:
                self._entries.pop(digest, None)


def principal_of(request: Request) -> Principal:
    principal: Principal | None = request.scope.get("taskyard.principal")
    if principal is None:
        raise Unauthorized(
            "Missing API key: send it as 'x-api-key' or 'Authorization: Bearer'",
            code="MISSING_API_KEY",
        )
    return principal


def require(request: Request, scope: str, *, message: str | None = None) -> Principal:
    """The caller, if its key holds ``scope``; 401/403 otherwise."""
    principal = principal_of(request)
    if not scopes.grants(principal.permissions, scope):
        raise PermissionDenied(
            message or f"Insufficient permissions: this route requires {scope}",
            required=scope,
            available=list(principal.permissions),
        )
    return principal


def require_user(request: Request, scope: str, legacy_route: str, message: str) -> str:
    """Simplified user routes: a user key with ``scope``; a global key is pointed elsewhere."""
    principal = require(request, scope, message=message)
    if principal.user_id is None:
        raise GlobalKeyOnUserRoute(legacy_route)
    return principal.user_id


def acting_user(principal: Principal, requested: str | None) -> str | None:
    """The user a call acts for: a user key acts for itself; a global key for ``requested``.

    A user key naming another user gets 404, as if that user did not exist.
    """
    if principal.user_id is not None:
        if requested and requested != principal.user_id:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        return principal.user_id
    logs.bind(user_id=requested)  # (a global key acting for a user)
    return requested


def required_user(principal: Principal, requested: str | None) -> str:
    """``acting_user`` for calls that need a user: a global key must name one (400)."""
    user_id = acting_user(principal, requested)
    if user_id is None:
        raise BadRequest("userId is required with a global API key", code="USER_ID_REQUIRED")
    return user_id


def key_expired(expires_at: datetime | None) -> bool:
    value = as_utc(expires_at)
    return value is not None and value <= utcnow()
