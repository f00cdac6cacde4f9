"""Tools of an app's enabled toolkits (the app-integrations API): list them, execute one
for an end user.

``execute`` runs the tool with the end user's connected account as a
``tool_execution`` job owned by the app's owner (so it shows in their jobs list
and can be cancelled there), through the same start path as
``/api/v1/tools/execute``. The workflow carries the connection's id; the
activity opens its tokens. A sandbox connection's execution is labelled as such
(``sandbox: true``, job metadata ``provider: "sandbox"``): its connector talks to
the sandbox vendor, which records instead of sending. Failures answer
``INTEGRATIONS_EXECUTION_FAILED``: 422 when the call cannot succeed as sent, 502
when the vendor or network failed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.catalog_schemas import with_tools
from api.errors import ApiError
from api.integrations.access import (
    AppCaller,
    ExecutionFailed,
    ToolkitNotEnabled,
    ToolkitUnknown,
    acting_for,
    authenticate,
    end_user,
)
from api.spec import operation
from api.state import services
from api.v1.tools import failure_status, start_tool_job, wait_outcome
from engine.services import catalog
from store import apps, connections

TAG = "Integrations"


class ToolsQuery(BaseModel):
    toolkit: str | None = Field(default=None, max_length=60)
    userId: str | None = Field(default=None, max_length=200)


class Tool(BaseModel):
    name: str
    toolkit: str
    action: str
    description: str
    inputSchema: dict[str, Any]
    outputSchema: dict[str, Any]


class ToolList(BaseModel):
    tools: list[Tool]


class Execute(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra=with_tools)

    toolName: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    userId: str | None = None
    connectionId: str | None = Field(default=None, max_length=40)


class Executed(BaseModel):
    successful: bool
    data: Any = None
    executionId: str
    sandbox: bool = False


def tools_of(kit: catalog.Toolkit) -> list[dict[str, Any]]:
    return [
        Tool(
            name=t.name,
            toolkit=t.toolkit,
            action=t.action,
            description=t.description,
            inputSchema=t.input_schema,
            outputSchema=t.output_schema,
        ).model_dump()
        for t in kit.tools
    ]


@operation(
    "List the tools of the app's enabled toolkits",
    tag=TAG,
    scope="integrations:read",
    query=ToolsQuery,
    responses={200: ToolList},
)
async def list_tools(request: Request) -> JSONResponse:
    q = bodies.query_model(request, ToolsQuery)
    caller = await end_user(request, "integrations:read", q.userId, required=False)
    enabled = [t.toolkit for t in await apps.toolkits(services(request).db, caller.app.id)]
    if q.toolkit is not None:
        if catalog.toolkit(q.toolkit) is None:
            raise ToolkitUnknown(q.toolkit, caller.app.id)
        if q.toolkit not in enabled:
            raise ToolkitNotEnabled(caller.app.id, q.toolkit)
        enabled = [q.toolkit]
    found: list[dict[str, Any]] = []
    for name in enabled:
        kit = catalog.toolkit(name)
        if kit is not None:
            found.extend(tools_of(kit))
    return JSONResponse({"tools": found})


async def _connection_for(
    request: Request,
    caller: AppCaller,
    kit: catalog.Toolkit,
    connection_id: str | None,
    *,
    required: bool,
) -> connections.Connection | None:
    """The connection to run with: ``connectionId``'s, else the end user's newest ACTIVE one.
    A toolkit that can run without one (Discord webhooks) gets None when there is none."""
    db = services(request).db
    end_user_id = str(caller.end_user_id)
    if connection_id is not None:
        row = await connections.get(db, connection_id)
        if (
            row is None
            or row.app_id != caller.app.id
            or row.end_user_id != end_user_id
            or row.toolkit != kit.type
        ):
            row = None
    else:
        row = await connections.latest_for(db, caller.app.id, end_user_id, kit.type)
        if not required and (row is None or row.status != "ACTIVE"):
            return None
    if row is None:
        raise ExecutionFailed(
            f"The user has no connected {kit.name} account",
            details={"toolkit": kit.type},
        )
    if row.status != "ACTIVE":
        raise ExecutionFailed(
            f"The user's {kit.name} connection is {row.status}; connect again",
            details={"connectionId": row.id, "status": row.status},
        )
    return row


@operation(
    "Execute a tool with the end user's connected account",
    tag=TAG,
    scope="integrations:execute",
    body=Execute,
    responses={200: Executed},
    description="Auth: the app's user JWT, or an API key plus userId. Failures: "
    "INTEGRATIONS_EXECUTION_FAILED, 422 soft failure, 502 network error.",
)
async def execute(request: Request) -> JSONResponse:
    caller = await authenticate(request, "integrations:execute")  # before reading the body
    data = await bodies.read(request, Execute)
    caller = acting_for(caller, data.userId, required=True)
    tool = catalog.find_tool(data.toolName)
    kit = catalog.toolkit(tool.toolkit) if tool is not None else None
    if kit is None:
        raise ExecutionFailed(f"Unknown tool {data.toolName!r}")
    if await apps.toolkit(services(request).db, caller.app.id, kit.type) is None:
        raise ToolkitNotEnabled(caller.app.id, kit.type)
    connection = None
    if kit.requires_credentials or kit.auth_type == "oauth2" or data.connectionId is not None:
        connection = await _connection_for(
            request, caller, kit, data.connectionId, required=kit.requires_credentials
        )
    sandbox = connection is not None and connection.provider == "sandbox"
    metadata: dict[str, Any] = {
        "appId": caller.app.id,
        "endUserId": caller.end_user_id,
        "connectionId": connection.id if connection else None,
    }
    if connection is not None:
        metadata["provider"] = connection.provider
    try:
        execution_id, handle = await start_tool_job(
            request,
            user_id=caller.app.user_id,
            tool_name=data.toolName,
            params=data.params,
            credential_id=connection.id if connection else None,
            metadata=metadata,
            app_id=caller.app.id,  # fair share: the app's end user is the tenant
            end_user_id=str(caller.end_user_id),
        )
    except (ApiError, catalog.InvalidParams) as exc:  # bad params, in this family's terms
        raise ExecutionFailed(exc.message, details=exc.details) from exc
    outcome = await wait_outcome(request, handle)
    if outcome is None:
        running = {"executionId": execution_id, "status": "running", "sandbox": sandbox}
        return JSONResponse(running, status_code=202)
    if outcome.successful:
        done = Executed(
            successful=True, data=outcome.data, executionId=execution_id, sandbox=sandbox
        )
        return JSONResponse(done.model_dump())
    details: dict[str, Any] = {"executionId": execution_id, "errorType": outcome.error_type}
    if sandbox:
        details["sandbox"] = True
    raise ExecutionFailed(
        outcome.error or "Tool execution failed",
        network=failure_status(outcome) == 502,
        details=details,
    )


routes = [
    Route("/v1/{app_id}/integrations/tools", list_tools, methods=["GET"]),
    Route("/v1/{app_id}/integrations/execute", execute, methods=["POST"]),
]
