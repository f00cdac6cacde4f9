"""App admin routes (API key): available toolkits, enabled config, enable/disable.

The curated toolkits are Taskyard's connectors; ``?search=`` matches every word
against a toolkit's slug, name, description, categories and tool names, and also
searches well-known toolkits Taskyard has no connector for (``curated: false``,
never installable). ``authType`` says how an end user connects: ``oauth2``
(connect returns an authUrl), ``credentials`` (connect takes them directly) or
``none`` (no connection needed). ``installable`` says whether this deployment can
enable it now; ``sandbox`` that its OAuth goes through Taskyard's sandbox because
the operator has not configured the vendor's client (``requires`` says so).
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
from engine.services import app_integrations, catalog
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
    categories: list[str]
    curated: bool
    authType: AuthType
    enabled: bool
    installable: bool
    sandbox: bool
    requires: str | None = None
    operatorSettings: list[str] = Field(default_factory=list)


class ToolkitList(BaseModel):
    integrations: list[Toolkit]


class EnabledToolkit(BaseModel):
    toolkit: str
    displayName: str
    scopes: list[str]
    authType: AuthType
    enabled: bool = True
    sandbox: bool = False
    createdAt: datetime


class EnabledList(BaseModel):
    integrations: list[EnabledToolkit]


class Configured(BaseModel):
    success: bool
    integration: EnabledToolkit


class Disabled(BaseModel):
    success: bool
    toolkit: str


def require_installable(settings: Settings, kit: catalog.Toolkit) -> app_integrations.Mode | None:
    """An OAuth toolkit needs the vendor's client or the sandbox; how it connects now."""
    mode = app_integrations.oauth_mode(settings, kit)
    if kit.auth_type == "oauth2" and mode is None:
        raise IntegrationsNotConfigured(
            f"{kit.name} sign-in is not configured on this platform",
            remediation="The operator must set "
            + " and ".join(app_integrations.operator_settings(kit))
            + " (or turn the sandbox on: TASKYARD_INTEGRATIONS_SANDBOX=true).",
        )
    return mode


def unknown_toolkit(name: str, app_id: str) -> ToolkitUnknown:
    known = app_integrations.uncurated(name)
    if known is None:
        return ToolkitUnknown(name, app_id)
    return ToolkitUnknown(
        name, app_id, message=f"{known} is in the catalog but Taskyard has no connector for it"
    )


def enabled_public(settings: Settings, row: apps.AppToolkit) -> dict[str, Any]:
    kit = catalog.toolkit(row.toolkit)
    return EnabledToolkit(
        toolkit=row.toolkit,
        displayName=row.display_name,
        scopes=row.scopes,
        authType=kit.auth_type if kit else "none",
        sandbox=kit is not None and app_integrations.oauth_mode(settings, kit) == "sandbox",
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
    s = services(request)
    enabled = {t.toolkit for t in await apps.toolkits(s.db, app.id)}
    body = ToolkitList(
        integrations=[
            Toolkit(
                toolkit=e.toolkit,
                displayName=e.name,
                description=e.description,
                categories=list(e.categories),
                curated=e.curated,
                authType=e.auth_type,
                enabled=e.toolkit in enabled,
                installable=e.installable,
                sandbox=e.sandbox,
                requires=e.requires,
                operatorSettings=e.operator_settings,
            )
            for e in app_integrations.available(s.settings, q.search)
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
    s = services(request)
    rows = await apps.toolkits(s.db, app.id)
    return JSONResponse({"integrations": [enabled_public(s.settings, r) for r in rows]})


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
        raise unknown_toolkit(data.toolkit, app.id)
    s = services(request)
    require_installable(s.settings, kit)
    row, created = await apps.enable(
        s.db,
        app.id,
        kit.type,
        display_name=data.displayName or kit.name,
        scopes=data.scopes,
    )
    body = {"success": True, "integration": enabled_public(s.settings, row)}
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
