"""ToolExecutionWorkflow: one connector action as a durable, cancellable job."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from engine.events import EventInput, emit_events
from engine.jobs import JobTracker, JobWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.tools import RunToolInput, ToolActivities
    from connectors.errors import PERMANENT_ERROR_TYPES


class ToolExecutionInput(BaseModel):
    user_id: str
    tool_name: str
    params: dict[str, Any] = Field(default_factory=dict)
    sealed_secret_id: str | None = None
    credential_id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: float = 60.0
    heartbeat_timeout_seconds: float = 10.0
    max_attempts: int = 3


class ToolExecutionOutput(BaseModel):
    successful: bool
    data: Any = None
    error: str | None = None
    error_type: str | None = None


def _failure_of(err: BaseException) -> tuple[str, str | None]:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type
    return str(cause or err), type(cause or err).__name__


@workflow.defn(name="ToolExecutionWorkflow")
class ToolExecutionWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._job = JobTracker()

    @workflow.run
    async def run(self, data: ToolExecutionInput) -> ToolExecutionOutput:
        self._job.state.metadata.update({"toolName": data.tool_name, **data.metadata})
        self._job.begin(f"Running {data.tool_name}", status="running")
        self._job.update(progress=10)
        try:
            result = await workflow.execute_activity_method(
                ToolActivities.run_tool_action,
                RunToolInput(
                    user_id=data.user_id,
                    tool_name=data.tool_name,
                    params=data.params,
                    sealed_secret_id=data.sealed_secret_id,
                    credential_id=data.credential_id,
                    config=data.config,
                ),
                start_to_close_timeout=timedelta(seconds=data.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=data.max_attempts,
                    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
                ),
            )
        except (asyncio.CancelledError, ActivityError) as err:
            if is_cancelled_exception(err):
                self._job.cancel(f"{data.tool_name} cancelled")
                raise
            message, error_type = _failure_of(err)
            self._job.fail(f"{data.tool_name} failed: {message}", error_type)
            await self._emit(data, "tool.failed", {"status": "failed", "error": message,
                                                   "errorType": error_type})
            raise ApplicationError(message, type=error_type, non_retryable=True) from err
        self._job.complete(f"{data.tool_name} completed", result)
        await self._emit(data, "tool.completed", {"status": "completed", "output": result})
        return ToolExecutionOutput(successful=True, data=result)

    async def _emit(self, data: ToolExecutionInput, name: str, body: dict[str, Any]) -> None:
        """Webhook events for the job's end (histories from before events replay unchanged)."""
        if workflow.patched("emit-events-v1"):
            payload = {"executionId": workflow.info().workflow_id, "toolName": data.tool_name,
                       **body}
            await emit_events(data.user_id, [EventInput(name=name, data=payload)])
