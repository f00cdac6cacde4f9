"""Users (global keys only): ``POST /api/v2/users``."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.errors import PermissionDenied
from api.spec import operation
from api.state import services
from store import user_repo
from store.models import User


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


routes = [Route("/api/v2/users", create_user, methods=["POST"])]
