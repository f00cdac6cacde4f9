"""``POST /api/v1/tools/execute``: run one connector action as a ``tool_execution`` job."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require, required_user
from api.catalog_schemas import with_tools
from api.errors import BadRequest, NotFound
from api.spec import operation
from api.state import services
from engine.models import queues, summaries
from engine.models.fairness import INTERACTIVE, NORMAL, RequestedPriority
from engine.models.tools import TOOL_WORKFLOW, ToolExecutionInput, ToolExecutionOutput
from engine.services import catalog
from engine.services.jobs import ExecutionResult
from engine.services.sealing import seal, split_secrets
from store import credentials

SYNC_WAIT_SECONDS = 120.0
PERMANENT = frozenset({"InvalidInputError", "NotFoundError", "AuthError"})


class ExecuteTool(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra=with_tools)

    toolName: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    run_async: bool = Field(default=False, alias="async")
    userId: str | None = None
    credentialId: str | None = Field(default=None, max_length=40)
    # Among the caller's own work: high runs before normal, low after (docs/fairness.md).
    priority: RequestedPriority | None = None


class ToolResult(BaseModel):
    """A finished synchronous execution, or (202) the id of one still running."""

    successful: bool | None = None
    data: Any = None
    executionId: str
    status: str | None = None


class ToolFailure(BaseModel):
    """A failed execution (``successful: false``) or a rejected request (``code``)."""

    successful: bool | None = None
    error: str
    errorType: str | None = None
    executionId: str | None = None
    code: str | None = None
    details: Any = None


def new_execution_id() -> str:
    return "exec_" + uuid.uuid4().hex


def failure_status(outcome: ExecutionResult) -> int:
    """409 cancelled, 422 a permanent (soft) failure, 502 anything the network or vendor caused."""
    if outcome.error_type == "Cancelled":
        return 409
    return 422 if outcome.error_type in PERMANENT else 502


def result_response(execution_id: str, outcome: ExecutionResult) -> JSONResponse:
    if outcome.successful:
        return JSONResponse({"successful": True, "data": outcome.data, "executionId": execution_id})
    status = failure_status(outcome)
    return JSONResponse(
        {
            "successful": False,
            "error": outcome.error,
            "errorType": outcome.error_type,
            "executionId": execution_id,
        },
        status_code=status,
    )


async def wait_outcome(request: Request, handle: Any) -> ExecutionResult | None:
    """The job's outcome within ``SYNC_WAIT_SECONDS``, or None while it still runs."""
    try:
        outcome: ExecutionResult = await asyncio.wait_for(
            services(request).jobs.outcome(handle), SYNC_WAIT_SECONDS
        )
    except TimeoutError:
        return None
    return outcome


async def tool_job_response(
    request: Request, execution_id: str, handle: Any, *, run_async: bool
) -> JSONResponse:
    """202 pending (async), the outcome (sync), or 202 running when the wait runs out."""
    if run_async:
        return JSONResponse({"executionId": execution_id, "status": "pending"}, status_code=202)
    outcome = await wait_outcome(request, handle)
    if outcome is None:
        return JSONResponse({"executionId": execution_id, "status": "running"}, status_code=202)
    return result_response(execution_id, outcome)


async def start_tool_job(
    request: Request,
    *,
    user_id: str,
    tool_name: str,
    params: dict[str, Any],
    credential_id: str | None = None,
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    run_async: bool = False,
    priority: str | None = None,
    app_id: str | None = None,
    end_user_id: str | None = None,
) -> tuple[str, Any]:
    """Validate, seal secrets and start the workflow; returns (execution id, handle).

    An unknown tool is ``BadRequest``; params the action refuses raise
    ``catalog.InvalidParams`` (422 ``VALIDATION_ERROR`` with ``details.errors``); a user
    at their running tool executions cap gets 429 ``QUOTA_EXCEEDED``. A synchronous call is
    interactive work, an asynchronous one normal; ``app_id``/``end_user_id`` make the app's
    end user the tenant its tasks are balanced by.
    """
    tool = catalog.find_tool(tool_name)
    if tool is None:
        raise BadRequest(f"Unknown tool {tool_name!r}", code="UNKNOWN_TOOL")
    catalog.validate_params(tool, params)
    s = services(request)
    await s.fair.check_running(user_id, "tool_execution")
    start_priority = await s.jobs.priority(
        user_id,
        NORMAL if run_async else INTERACTIVE,
        requested=priority,
        app_id=app_id,
        end_user_id=end_user_id,
    )
    public, secret = split_secrets(params)
    sealed_id = await seal(s.db, s.vault, user_id, secret) if secret else None
    execution_id = new_execution_id()
    canonical = tool.name
    handle = await s.jobs.start(
        TOOL_WORKFLOW,
        ToolExecutionInput(
            user_id=user_id,
            tool_name=canonical,
            params=public,
            sealed_secret_id=sealed_id,
            credential_id=credential_id,
            config=config or {},
            metadata=metadata or {},
            timeout_seconds=s.settings.http_timeout_seconds + 30,
            heartbeat_timeout_seconds=s.settings.activity_heartbeat_timeout_seconds,
        ),
        job_id=execution_id,
        user_id=user_id,
        job_type="tool_execution",
        queue=queues.TOOLS,
        message=f"Queued {canonical}",
        metadata={"toolName": canonical, **(metadata or {})},
        result_type=ToolExecutionOutput,
        summary=summaries.tool(canonical),
        priority=start_priority,
    )
    return execution_id, handle


async def check_credential(request: Request, user_id: str, credential_id: str, tool: str) -> None:
    """The credential exists, belongs to the caller and is for the tool's connector."""
    row = await credentials.get_owned(services(request).db, user_id, credential_id)
    if row is None:
        raise NotFound("Credential not found", code="CREDENTIAL_NOT_FOUND")
    found = catalog.find_tool(tool)
    if found is not None and found.toolkit != row.provider:
        raise BadRequest(
            f"Credential {row.id} is for {row.provider}, not {found.toolkit}",
            code="CREDENTIAL_PROVIDER_MISMATCH",
        )


@operation(
    "Execute one connector action",
    tag="Tools",
    scope="tools:execute",
    body=ExecuteTool,
    responses={
        200: ToolResult,
        202: ToolResult,
        400: None,
        404: None,
        409: ToolFailure,
        422: ToolFailure,
        429: None,
        502: ToolFailure,
    },
    description="Runs a `tool_execution` job and waits for it (up to two minutes); with "
    "`async: true` it answers 202 with the execution id at once.",
)
async def execute_tool(request: Request) -> JSONResponse:
    principal = require(request, "tools:execute")
    data = await bodies.read(request, ExecuteTool)
    user_id = required_user(principal, data.userId)
    if data.credentialId is not None:
        await check_credential(request, user_id, data.credentialId, data.toolName)
    execution_id, handle = await start_tool_job(
        request,
        user_id=user_id,
        tool_name=data.toolName,
        params=data.params,
        credential_id=data.credentialId,
        run_async=data.run_async,
        priority=data.priority,
    )
    return await tool_job_response(request, execution_id, handle, run_async=data.run_async)


routes = [Route("/api/v1/tools/execute", execute_tool, methods=["POST"])]
