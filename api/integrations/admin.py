"""App admin routes (seed 003, API key): available toolkits, enabled config, enable/disable.

The curated toolkits are Taskyard's connectors; ``?search=`` matches a toolkit's
slug, name, description and tool names. ``authType`` says how an end user
connects: ``oauth2`` (connect returns an authUrl), ``credentials`` (connect
takes them directly) or ``none`` (no connection needed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.catalog_schemas import toolkit_enum
from api.integrations.access import (
    IntegrationsNotConfigured,
    ToolkitNotEnabled,
    ToolkitUnknown,
    admin,
)
from api.spec import operation
from api.state import services
from engine.services import catalog
from engine.services.catalog import AuthType
from settings import Settings
from store import apps
from store.db import as_utc

TAG = "Integrations"


class AvailableQuery(BaseModel):
    search: str | None = Field(default=None, max_length=100)


class Configure(BaseModel):
    toolkit: str = Field(min_length=1, max_length=60, json_schema_extra=toolkit_enum)
    displayName: str | None = Field(default=None, max_length=200)
    scopes: list[str] = Field(
        default_factory=list,
        max_length=50,
        json_schema_extra={"items": {"type": "string", "pattern": r"^[!-~]{1,300}$"}},
    )

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not scope or len(scope) > 300 or any(c.isspace() for c in scope):
                raise ValueError(f"invalid scope {scope!r}")
        return list(dict.fromkeys(value))


class Toolkit(BaseModel):
    toolkit: str
    displayName: str
    description: str
    curated: bool
    authType: AuthType
    enabled: bool


class ToolkitList(BaseModel):
    integrations: list[Toolkit]


class EnabledToolkit(BaseModel):
    toolkit: str
    displayName: str
    scopes: list[str]
    authType: AuthType
    enabled: bool = True
    createdAt: datetime


class EnabledList(BaseModel):
    integrations: list[EnabledToolkit]


class Configured(BaseModel):
    success: bool
    integration: EnabledToolkit


class Disabled(BaseModel):
    success: bool
    toolkit: str


def require_platform_client(settings: Settings, kit: catalog.Toolkit) -> None:
    """OAuth toolkits need the platform's OAuth client for their provider."""
    client = kit.oauth_client
    if client is not None and client not in settings.oauth_clients():
        raise IntegrationsNotConfigured(
            f"{kit.name} sign-in is not configured on this platform",
            remediation=f"The operator must set TASKYARD_{client.upper()}_CLIENT_ID "
            f"and TASKYARD_{client.upper()}_CLIENT_SECRET.",
        )


def enabled_public(row: apps.AppToolkit) -> dict[str, Any]:
    kit = catalog.toolkit(row.toolkit)
    return EnabledToolkit(
        toolkit=row.toolkit,
        displayName=row.display_name,
        scopes=row.scopes,
        authType=kit.auth_type if kit else "none",
        createdAt=as_utc(row.created_at),  # type: ignore[arg-type]
    ).model_dump(mode="json")


@operation(
    "List curated toolkits, or search the catalog",
    tag=TAG,
    scope="integrations:read",
    query=AvailableQuery,
    responses={200: ToolkitList},
)
async def available(request: Request) -> JSONResponse:
    app = await admin(request, "integrations:read")
    q = bodies.query_model(request, AvailableQuery)
    enabled = {t.toolkit for t in await apps.toolkits(services(request).db, app.id)}
    body = ToolkitList(
        integrations=[
            Toolkit(
                toolkit=kit.type,
                displayName=kit.name,
                description=kit.description,
                curated=True,
                authType=kit.auth_type,
                enabled=kit.type in enabled,
            )
            for kit in catalog.toolkits(q.search)
        ]
    )
    return JSONResponse(body.model_dump())


@operation(
    "List the toolkits enabled for this app",
    tag=TAG,
    scope="integrations:read",
    responses={200: EnabledList},
)
async def config(request: Request) -> JSONResponse:
    app = await admin(request, "integrations:read")
    rows = await apps.toolkits(services(request).db, app.id)
    return JSONResponse({"integrations": [enabled_public(r) for r in rows]})


@operation(
    "Enable a toolkit for this app",
    tag=TAG,
    scope="integrations:write",
    body=Configure,
    responses={200: Configured, 201: Configured},
)
async def configure(request: Request) -> JSONResponse:
    app = await admin(request, "integrations:write")
    data = await bodies.read(request, Configure)
    kit = catalog.toolkit(data.toolkit)
    if kit is None:
        raise ToolkitUnknown(data.toolkit, app.id)
    require_platform_client(services(request).settings, kit)
    row, created = await apps.enable(
        services(request).db,
        app.id,
        kit.type,
        display_name=data.displayName or kit.name,
        scopes=data.scopes,
    )
    body = {"success": True, "integration": enabled_public(row)}
    return JSONResponse(body, status_code=201 if created else 200)


@operation(
    "Disable a toolkit for this app", tag=TAG, scope="integrations:write", responses={200: Disabled}
)
async def disable(request: Request) -> JSONResponse:
    app = await admin(request, "integrations:write")
    toolkit = request.path_params["toolkit"]
    if not await apps.disable(services(request).db, app.id, toolkit):
        raise ToolkitNotEnabled(app.id, toolkit)
    return JSONResponse(Disabled(success=True, toolkit=toolkit).model_dump())


routes = [
    Route("/v1/{app_id}/integrations/available", available, methods=["GET"]),
    Route("/v1/{app_id}/integrations/config", config, methods=["GET"]),
    Route("/v1/{app_id}/integrations/configure", configure, methods=["POST"]),
    Route("/v1/{app_id}/integrations/configure/{toolkit}", disable, methods=["DELETE"]),
]
