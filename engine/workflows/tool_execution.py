"""ToolExecutionWorkflow: one connector action as a durable, cancellable job."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.events import EventInput
    from engine.models.tools import (
        RUN_TOOL_ACTION,
        TOOL_WORKFLOW,
        RunToolInput,
        ToolExecutionInput,
        ToolExecutionOutput,
    )
    from engine.workflows.events import emit_events
    from engine.workflows.jobs import JobTracker, JobWorkflow


@workflow.defn(name=TOOL_WORKFLOW)
class ToolExecutionWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._job = JobTracker()

    @workflow.run
    async def run(self, data: ToolExecutionInput) -> ToolExecutionOutput:
        self._job.state.metadata.update({"toolName": data.tool_name, **data.metadata})
        self._job.begin(f"Running {data.tool_name}", status="running")
        self._job.update(progress=10)
        try:
            result = await workflow.execute_activity(
                RUN_TOOL_ACTION,
                RunToolInput(
                    user_id=data.user_id,
                    tool_name=data.tool_name,
                    params=data.params,
                    sealed_secret_id=data.sealed_secret_id,
                    credential_id=data.credential_id,
                    config=data.config,
                ),
                result_type=dict[str, Any],
                start_to_close_timeout=timedelta(seconds=data.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=data.max_attempts,
                    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
                ),
                summary=data.tool_name,
            )
        except (asyncio.CancelledError, ActivityError) as err:

            async def announce(message: str, error_type: str) -> None:
                await self._emit(
                    data,
                    "tool.failed",
                    {"status": "failed", "error": message, "errorType": error_type},
                )

            await self._job.settle(
                err,
                cancelled=f"{data.tool_name} cancelled",
                failed=f"{data.tool_name} failed",
                announce=announce,
            )
        self._job.complete(f"{data.tool_name} completed", result)
        await self._emit(data, "tool.completed", {"status": "completed", "output": result})
        return ToolExecutionOutput(successful=True, data=result)

    async def _emit(self, data: ToolExecutionInput, name: str, body: dict[str, Any]) -> None:
        """Webhook events for the job's end (histories from before events replay unchanged)."""
        if workflow.patched("emit-events-v1"):
            payload = {
                "executionId": workflow.info().workflow_id,
                "toolName": data.tool_name,
                **body,
            }
            await emit_events(data.user_id, [EventInput(name=name, data=payload)])
