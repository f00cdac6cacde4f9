"""CredentialTestWorkflow: a credential's cheap test call as a short ``tool_execution`` job.

The API never calls a connector itself; ``POST /api/v1/credentials/{id}/test``
starts this and waits for it, so the call is retried, visible and cancellable
like any other tool execution.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from engine.jobs import JobTracker, JobWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.credential_check import CredentialTestActivities, TestCredentialInput
    from connectors.errors import PERMANENT_ERROR_TYPES


class CredentialTestInput(BaseModel):
    user_id: str
    credential_id: str
    provider: str
    timeout_seconds: float = 60.0
    heartbeat_timeout_seconds: float = 10.0


class CredentialTestOutput(BaseModel):
    successful: bool
    data: Any = None


CREDENTIAL_TEST_WORKFLOW = "CredentialTestWorkflow"


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
            details = await workflow.execute_activity_method(
                CredentialTestActivities.test_credential,
                TestCredentialInput(
                    user_id=data.user_id, credential_id=data.credential_id, provider=data.provider
                ),
                start_to_close_timeout=timedelta(seconds=data.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=10),
                    maximum_attempts=3,
                    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
                ),
            )
        except (asyncio.CancelledError, ActivityError) as err:
            if is_cancelled_exception(err):
                self._job.cancel(f"{label} cancelled")
                raise
            cause = err.cause if isinstance(err, ActivityError) else err
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            error_type = cause.type if isinstance(cause, ApplicationError) else "ActivityError"
            self._job.fail(f"{label} failed: {message}", error_type)
            raise ApplicationError(message, type=error_type, non_retryable=True) from err
        self._job.complete(f"{label} passed", details)
        return CredentialTestOutput(successful=True, data=details)
