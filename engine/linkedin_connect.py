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
    from activities.linkedin import ConnectInput, ConnectOutput, LinkedInActivities


def connect_workflow_id(state_hash: str) -> str:
    return f"linkedin-connect-{state_hash[:32]}"


@workflow.defn(name="LinkedInConnectWorkflow")
class LinkedInConnectWorkflow:
    @workflow.run
    async def run(self, data: ConnectInput) -> ConnectOutput:
        return await workflow.execute_activity_method(
            LinkedInActivities.complete_linkedin_connection,
            data,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=10),
                maximum_attempts=3,
                non_retryable_error_types=["AuthError", "InvalidInputError", "NotFoundError"],
            ),
        )
