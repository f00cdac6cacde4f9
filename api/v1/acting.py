"""Who an /api/v1 call acts for: a user key's own user, or the user a global key names."""

from __future__ import annotations

from starlette.requests import Request

from api.auth import require, required_user
from api.errors import NotFound
from api.state import services
from store import acting_repo


async def user_for(request: Request, scope: str, requested: str | None = None) -> str:
    """The acting user id after checking ``scope``; a global key must name an existing user."""
    principal = require(request, scope)
    user_id = required_user(principal, requested or request.query_params.get("userId"))
    if principal.is_global and not await acting_repo.user_exists(services(request).db, user_id):
        raise NotFound("User not found", code="USER_NOT_FOUND")
    return user_id
