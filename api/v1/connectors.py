"""Connectors (workflows API): the catalog, a user's connector instances, and running an action.

``GET /api/v1/connectors?available=true`` is the catalog with each action's
JSON Schemas (from the same pydantic models the activity validates with);
without ``available`` it lists the caller's instances. Running an action is a
``tool_execution`` job started through the same path as ``/api/v1/tools/execute``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.catalog_schemas import with_connectors
from api.errors import BadRequest, NotFound
from api.spec import operation
from api.state import services
from api.v1.acting import user_for
from api.v1.tools import start_tool_job, tool_job_response
from engine.services import catalog
from store import credentials as store
from store.db import as_utc

TAG = "Connectors"


class CatalogQuery(BaseModel):
    available: bool = False


class CreateInstance(BaseModel):
    model_config = ConfigDict(json_schema_extra=with_connectors)

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=60)
    credentialId: str | None = Field(default=None, max_length=40)
    config: dict[str, Any] = Field(default_factory=dict)
    userId: str | None = None


class RunAction(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    params: dict[str, Any] | None = None
    input: dict[str, Any] | None = None
    run_async: bool = Field(default=False, alias="async")


class ActionInfo(BaseModel):
    name: str
    toolName: str
    description: str
    inputSchema: dict[str, Any]
    outputSchema: dict[str, Any]


class CredentialFieldInfo(BaseModel):
    name: str
    secret: bool
    required: bool
    description: str


class ConnectorInfo(BaseModel):
    type: str
    name: str
    description: str
    credentialType: str
    credentialFields: list[CredentialFieldInfo]
    requiresCredentials: bool
    actions: list[ActionInfo]


class InstancePublic(BaseModel):
    id: str
    name: str
    type: str
    credentialId: str | None
    config: dict[str, Any]
    createdAt: datetime


class ConnectorListing(RootModel[list[ConnectorInfo] | list[InstancePublic]]):
    """The catalog (``available=true``) or the caller's connector instances."""


class Deleted(BaseModel):
    success: bool
    id: str


def catalog_entry(kit: catalog.Toolkit) -> dict[str, Any]:
    return ConnectorInfo(
        type=kit.type,
        name=kit.name,
        description=kit.description,
        credentialType=kit.credential_type,
        credentialFields=[
            CredentialFieldInfo(
                name=f.name, secret=f.secret, required=f.required, description=f.description
            )
            for f in kit.credential_fields
        ],
        requiresCredentials=kit.requires_credentials,
        actions=[
            ActionInfo(
                name=t.action,
                toolName=t.name,
                description=t.description,
                inputSchema=t.input_schema,
                outputSchema=t.output_schema,
            )
            for t in kit.tools
        ],
    ).model_dump()


def instance_public(row: store.ConnectorInstance) -> dict[str, Any]:
    return InstancePublic(
        id=row.id,
        name=row.name,
        type=row.type,
        credentialId=row.credential_id,
        config=row.config,
        createdAt=as_utc(row.created_at),  # type: ignore[arg-type]
    ).model_dump(mode="json")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def with_config_defaults(
    params: dict[str, Any], config: dict[str, Any], fields: set[str]
) -> dict[str, Any]:
    """``config.defaultChannel`` fills ``channel`` (or ``default_thread_ts`` → ``thread_ts``)."""
    merged = dict(params)
    for key, value in config.items():
        for prefix in ("default_", "default"):
            if key.startswith(prefix) and len(key) > len(prefix):
                rest = key[len(prefix) :]
                for name in (rest[0].lower() + rest[1:], _snake(rest)):
                    if name in fields and name not in merged:
                        merged[name] = value
                        break
                break
    return merged


@operation(
    "List the connector catalog (available=true) or your connector instances",
    tag=TAG,
    scope="connectors:read",
    query=CatalogQuery,
    responses={200: ConnectorListing},
)
async def list_connectors(request: Request) -> JSONResponse:
    q = bodies.query_model(request, CatalogQuery)
    if q.available:
        require(request, "connectors:read")
        return JSONResponse([catalog_entry(kit) for kit in catalog.toolkits()])
    user_id = await user_for(request, "connectors:read")
    rows = await store.list_instances(services(request).db, user_id)
    return JSONResponse([instance_public(r) for r in rows])


@operation(
    "Create a connector instance",
    tag=TAG,
    scope="connectors:write",
    body=CreateInstance,
    responses={201: InstancePublic},
)
async def create_instance(request: Request) -> JSONResponse:
    require(request, "connectors:write")
    data = await bodies.read(request, CreateInstance)
    user_id = await user_for(request, "connectors:write", data.userId)
    kit = catalog.toolkit(data.type)
    if kit is None:
        raise BadRequest(f"Unknown connector type {data.type!r}", code="UNKNOWN_CONNECTOR")
    db = services(request).db
    if data.credentialId is not None:
        credential = await store.get_owned(db, user_id, data.credentialId)
        if credential is None:
            raise NotFound("Credential not found", code="CREDENTIAL_NOT_FOUND")
        if credential.provider != kit.type:
            raise BadRequest(
                f"Credential {credential.id} is for {credential.provider}, not {kit.type}",
                code="CREDENTIAL_PROVIDER_MISMATCH",
            )
    elif kit.requires_credentials:
        raise BadRequest(f"{kit.name} needs a credentialId", code="CREDENTIAL_REQUIRED")
    row = await store.create_instance(
        db,
        user_id=user_id,
        name=data.name,
        type=kit.type,
        credential_id=data.credentialId,
        config=data.config,
    )
    return JSONResponse(instance_public(row), status_code=201)


async def _instance(request: Request, user_id: str) -> store.ConnectorInstance:
    row = await store.get_instance(services(request).db, user_id, request.path_params["id"])
    if row is None:
        raise NotFound("Connector not found", code="CONNECTOR_NOT_FOUND")
    return row


@operation(
    "Get a connector instance", tag=TAG, scope="connectors:read", responses={200: InstancePublic}
)
async def get_instance(request: Request) -> JSONResponse:
    user_id = await user_for(request, "connectors:read")
    return JSONResponse(instance_public(await _instance(request, user_id)))


@operation(
    "Delete a connector instance", tag=TAG, scope="connectors:write", responses={200: Deleted}
)
async def delete_instance(request: Request) -> JSONResponse:
    user_id = await user_for(request, "connectors:write")
    row = await _instance(request, user_id)
    await store.delete_instance(services(request).db, row)
    return JSONResponse(Deleted(success=True, id=row.id).model_dump())


@operation(
    "Run one action of a connector instance as a tool_execution job",
    tag=TAG,
    scope="tools:execute",
    body=RunAction,
    description='Synchronous by default; `"async": true` answers 202 with executionId.',
)
async def run_action(request: Request) -> JSONResponse:
    user_id = await user_for(request, "tools:execute")
    data = await bodies.read(request, RunAction)
    row = await _instance(request, user_id)
    kit = catalog.toolkit(row.type)
    tool = kit.tool(request.path_params["action"]) if kit else None
    if tool is None:
        raise NotFound("Action not found", code="ACTION_NOT_FOUND")
    params = with_config_defaults(
        data.params or data.input or {}, row.config, set(tool.input_fields)
    )
    execution_id, handle = await start_tool_job(
        request,
        user_id=user_id,
        tool_name=tool.name,
        params=params,
        credential_id=row.credential_id,
        config=row.config,
        metadata={"connectorId": row.id, "action": tool.action},
    )
    return await tool_job_response(request, execution_id, handle, run_async=data.run_async)


routes = [
    Route("/api/v1/connectors", list_connectors, methods=["GET"]),
    Route("/api/v1/connectors", create_instance, methods=["POST"]),
    Route("/api/v1/connectors/{id}", get_instance, methods=["GET"]),
    Route("/api/v1/connectors/{id}", delete_instance, methods=["DELETE"]),
    Route("/api/v1/connectors/{id}/actions/{action}", run_action, methods=["POST"]),
]
