"""Client helpers the API uses to drive ``ConnectionWorkflow`` (start, authorize, stop)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from engine.models import fairness, queues, summaries
from engine.models.connections import (
    CONNECTION_WORKFLOW,
    UPDATE_AUTHORIZE,
    AuthorizeInput,
    ConnectionInput,
    ConnectionOutcome,
)
from store.errors import ConflictError


class ConnectionRequestClosed(ConflictError):
    """The connection request was completed already, or is no longer waiting."""

    code = "CONNECTION_REQUEST_CLOSED"


class ConnectionService:
    def __init__(
        self,
        client: Client,
        *,
        task_queue_prefix: str,
        request_ttl_seconds: int,
        refresh_margin_seconds: int,
    ) -> None:
        self.client = client
        self.prefix = task_queue_prefix
        self.request_ttl_seconds = request_ttl_seconds
        self.refresh_margin_seconds = refresh_margin_seconds

    async def start(
        self,
        *,
        connection_id: str,
        owner_user_id: str,
        app_id: str,
        end_user_id: str,
        toolkit: str,
    ) -> None:
        await self.client.start_workflow(
            CONNECTION_WORKFLOW,
            ConnectionInput(
                connection_id=connection_id,
                owner_user_id=owner_user_id,
                app_id=app_id,
                end_user_id=end_user_id,
                toolkit=toolkit,
                request_ttl_seconds=self.request_ttl_seconds,
                refresh_margin_seconds=self.refresh_margin_seconds,
            ),
            id=connection_id,
            task_queue=queues.task_queue(self.prefix, queues.TOOLS),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=summaries.connection(toolkit, app_id),
            # The end user waits at the OAuth callback: the system class, under the app's
            # end user as the tenant.
            priority=fairness.job_priority(
                fairness.fairness_key(owner_user_id, app_id=app_id, end_user_id=end_user_id),
                fairness.SYSTEM,
            ),
        )

    async def authorize(self, connection_id: str, data: AuthorizeInput) -> ConnectionOutcome:
        """Hand the callback's result to the workflow and wait for the exchange to finish."""
        handle = self.client.get_workflow_handle(connection_id)
        try:
            return await handle.execute_update(
                UPDATE_AUTHORIZE, data, result_type=ConnectionOutcome
            )
        except WorkflowUpdateFailedError as exc:
            raise ConnectionRequestClosed(connection_id) from exc
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise ConnectionRequestClosed(connection_id) from exc
            raise

    async def stop(self, connection_id: str) -> None:
        """Cancel the connection's workflow (refreshing stops); a closed one is fine."""
        try:
            await self.client.get_workflow_handle(connection_id).cancel()
        except RPCError as exc:
            if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise
