"""CredentialTestWorkflow: a credential's cheap test call as a short ``tool_execution`` job.

The API never calls a connector itself; ``POST /api/v1/credentials/{id}/test`` starts this
and waits for it, so the call is retried, visible and cancellable like any other tool
execution.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.tools import (
        CREDENTIAL_TEST_WORKFLOW,
        TEST_CREDENTIAL,
        CredentialTestInput,
        CredentialTestOutput,
        TestCredentialInput,
    )
    from engine.workflows.jobs import JobTracker, JobWorkflow


@workflow.defn(name=CREDENTIAL_TEST_WORKFLOW)
class CredentialTestWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._job = JobTracker()

    @workflow.run
    async def run(self, data: CredentialTestInput) -> CredentialTestOutput:
        label = f"{data.provider} credential test"
        self._job.state.metadata.update(
            {"credentialId": data.credential_id, "provider": data.provider}
        )
        self._job.begin(f"Testing {data.provider} credential", status="running")
        try:
            details = await workflow.execute_activity(
                TEST_CREDENTIAL,
                TestCredentialInput(
                    user_id=data.user_id, credential_id=data.credential_id, provider=data.provider
                ),
                result_type=dict[str, Any],
                start_to_close_timeout=timedelta(seconds=data.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                summary=f"test {data.provider} credential",
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=10),
                    maximum_attempts=3,
                    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
                ),
            )
        except (asyncio.CancelledError, ActivityError) as err:
            await self._job.settle(err, cancelled=f"{label} cancelled", failed=f"{label} failed")
        self._job.complete(f"{label} passed", details)
        return CredentialTestOutput(successful=True, data=details)
