"""LinkedInConnectWorkflow: finish a LinkedIn sign-in (code → token → profile → stored).

The OAuth callback starts it and waits for it, so the exchange with LinkedIn
runs on a worker (the API never calls a provider itself) and shows in the
Temporal UI. Its input is the user and the state's hash; the authorization
code waits encrypted in the database and never enters history. It is not a
job (no job search attributes): users see the result as their integration.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.linkedin import (
        COMPLETE_CONNECTION,
        CONNECT_WORKFLOW,
        ConnectInput,
        ConnectOutput,
    )


@workflow.defn(name=CONNECT_WORKFLOW)
class LinkedInConnectWorkflow:
    @workflow.run
    async def run(self, data: ConnectInput) -> ConnectOutput:
        out: ConnectOutput = await workflow.execute_activity(
            COMPLETE_CONNECTION,
            data,
            result_type=ConnectOutput,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=10),
                maximum_attempts=3,
                non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
            ),
        )
        return out
