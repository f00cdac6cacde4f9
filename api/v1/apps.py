"""Apps (owners of app integrations): create one (its end-user JWT secret shown once),
list, read, edit.

An app is what ``/v1/{appId}/integrations`` is scoped to. Its end users
authenticate with HS256 JWTs the app signs with ``jwtSecret`` (``sub`` = the end
user's id, ``aud`` = the app id, ``exp`` required); ``redirectUrls`` are where the
OAuth callback may send them back, each on an origin the operator allows
(``TASKYARD_OAUTH_RETURN_ORIGINS``; 422 ``REDIRECT_URL_NOT_ALLOWED`` otherwise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic.config import JsonDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.errors import NotFound, Unprocessable
from api.spec import operation
from api.state import services
from api.v1.acting import user_for
from store import apps as store
from store.db import as_utc

TAG = "Apps"
MAX_REDIRECTS = 20
# Absolute http(s) URLs without a fragment.
REDIRECT_URLS: JsonDict = {
    "items": {"type": "string", "pattern": r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?][^\s#]*)?$"}
}


def check_redirect_urls(urls: list[str]) -> list[str]:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an absolute http(s) URL: {url!r}")
        if parts.fragment:
            raise ValueError(f"redirect URLs cannot carry a fragment: {url!r}")
    return list(dict.fromkeys(urls))


def check_origins(request: Request, urls: list[str] | None) -> None:
    """Every redirect URL on an origin the operator allows: an app's redirect URLs are
    where the API's callback sends browsers, so they cannot be just any site."""
    settings = services(request).settings
    refused = [url for url in urls or [] if not settings.return_url_allowed(url)]
    if refused:
        raise Unprocessable(
            "redirectUrls must be on origins this server allows (TASKYARD_OAUTH_RETURN_ORIGINS)",
            code="REDIRECT_URL_NOT_ALLOWED",
            details={"refused": refused},
        )


class CreateApp(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    redirectUrls: list[str] = Field(
        default_factory=list, max_length=MAX_REDIRECTS, json_schema_extra=REDIRECT_URLS
    )
    userId: str | None = None

    _urls = field_validator("redirectUrls")(check_redirect_urls)


class UpdateApp(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    redirectUrls: list[str] | None = Field(
        default=None, max_length=MAX_REDIRECTS, json_schema_extra=REDIRECT_URLS
    )

    _urls = field_validator("redirectUrls")(
        lambda v: check_redirect_urls(v) if v is not None else v
    )


class AppPublic(BaseModel):
    appId: str
    name: str
    redirectUrls: list[str]
    createdAt: datetime
    updatedAt: datetime


class AppCreated(AppPublic):
    jwtSecret: str = Field(description="HS256 secret for end-user JWTs; shown only once")


class SecretRotated(BaseModel):
    appId: str
    jwtSecret: str


def public(row: store.App) -> dict[str, Any]:
    return AppPublic(
        appId=row.id,
        name=row.name,
        redirectUrls=row.redirect_urls,
        createdAt=as_utc(row.created_at),
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
    ).model_dump(mode="json")


async def owned_app(request: Request, user_id: str, app_id: str) -> store.App:
    app = await store.get(services(request).db, app_id)
    if app is None or app.user_id != user_id:
        raise NotFound("App not found", code="APP_NOT_FOUND")
    return app


@operation(
    "Create an app (its JWT signing secret is shown once)",
    tag=TAG,
    scope="apps:write",
    body=CreateApp,
    responses={201: AppCreated},
    description="redirectUrls must be on origins the server allows (422 REDIRECT_URL_NOT_ALLOWED).",
)
async def create_app(request: Request) -> JSONResponse:
    require(request, "apps:write")
    data = await bodies.read(request, CreateApp)
    user_id = await user_for(request, "apps:write", data.userId)
    check_origins(request, data.redirectUrls)
    s = services(request)
    row, secret = await store.create(
        s.db, s.vault, user_id=user_id, name=data.name, redirect_urls=data.redirectUrls
    )
    return JSONResponse({**public(row), "jwtSecret": secret}, status_code=201)


@operation("List your apps", tag=TAG, scope="apps:read", responses={200: list[AppPublic]})
async def list_apps(request: Request) -> JSONResponse:
    user_id = await user_for(request, "apps:read")
    return JSONResponse([public(r) for r in await store.list_owned(services(request).db, user_id)])


@operation("Get an app", tag=TAG, scope="apps:read", responses={200: AppPublic})
async def get_app(request: Request) -> JSONResponse:
    user_id = await user_for(request, "apps:read")
    return JSONResponse(public(await owned_app(request, user_id, request.path_params["id"])))


@operation(
    "Rename an app or change its allowed redirect URLs",
    tag=TAG,
    scope="apps:write",
    body=UpdateApp,
    responses={200: AppPublic},
)
async def update_app(request: Request) -> JSONResponse:
    user_id = await user_for(request, "apps:write")
    data = await bodies.read(request, UpdateApp)
    app = await owned_app(request, user_id, request.path_params["id"])
    check_origins(request, data.redirectUrls)
    row = await store.update(
        services(request).db, app, name=data.name, redirect_urls=data.redirectUrls
    )
    return JSONResponse(public(row))


@operation(
    "Replace an app's JWT signing secret (shown once; old tokens stop working)",
    tag=TAG,
    scope="apps:write",
    responses={200: SecretRotated},
)
async def rotate_secret(request: Request) -> JSONResponse:
    user_id = await user_for(request, "apps:write")
    app = await owned_app(request, user_id, request.path_params["id"])
    s = services(request)
    secret = await store.rotate_secret(s.db, s.vault, app)
    return JSONResponse(SecretRotated(appId=app.id, jwtSecret=secret).model_dump())


routes = [
    Route("/api/v1/apps", create_app, methods=["POST"]),
    Route("/api/v1/apps", list_apps, methods=["GET"]),
    Route("/api/v1/apps/{id}", get_app, methods=["GET"]),
    Route("/api/v1/apps/{id}", update_app, methods=["PATCH"]),
    Route("/api/v1/apps/{id}/secret", rotate_secret, methods=["POST"]),
]
