"""Client helpers for ``workflow_run`` executions: start, read, list, cancel.

Started through ``JobService.start`` like every job, so executions show in
``/api/v2/users/jobs``. A running execution is read exactly through its
``run_state`` query; a finished one from its result (or the run state carried
in its failure), the API's database record being the first choice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.common import Priority, SearchAttributePair
from temporalio.exceptions import ApplicationError

from engine.models import queues, summaries
from engine.models.jobs import SA_WORKFLOW_ID
from engine.models.runs import (
    QUERY_RUN_STATE,
    RUN_WORKFLOW,
    SIGNAL_RUN_EVENT,
    RunEvent,
    RunState,
    WorkflowRunInput,
    start_job_memo,
)
from engine.services.jobs import (
    JobAlreadyFinished,
    JobFilter,
    JobNotFound,
    JobPage,
    JobService,
    list_jobs,
    quote,
    visibility_query,
)

JOB_TYPE = "workflow_run"
QUERY_TIMEOUT = timedelta(seconds=10)


ExecutionPage = JobPage


class ExecutionService:
    """Every call names the caller; another user's execution is reported as missing."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.client = jobs.client

    async def start(
        self,
        execution_id: str,
        data: WorkflowRunInput,
        *,
        priority: Priority | None = None,
        message: str | None = None,
    ) -> None:
        """``message``: what the job says instead of the usual (why a queued run waits)."""
        default_message, metadata = start_job_memo(data)
        message = message or default_message
        await self.jobs.start(
            RUN_WORKFLOW,
            data,
            job_id=execution_id,
            user_id=data.user_id,
            job_type=JOB_TYPE,
            queue=queues.WORKFLOWS,
            message=message,
            metadata=metadata,
            extra_attributes=[SearchAttributePair(SA_WORKFLOW_ID, data.workflow_id)],
            summary=summaries.workflow_run(data.workflow_id, data.version, data.schedule_id),
            priority=priority,
        )

    async def describe(self, user_id: str, execution_id: str) -> WorkflowExecutionDescription:
        description = await self.jobs.owned(user_id, execution_id)
        if description.workflow_type != RUN_WORKFLOW:
            raise JobNotFound(execution_id)
        return description

    async def live_state(self, execution_id: str) -> RunState | None:
        """The exact state of a running execution (None if no worker answers in time)."""
        try:
            state: RunState | None = await self.client.get_workflow_handle(execution_id).query(
                QUERY_RUN_STATE, result_type=RunState, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception:  # no worker, a timeout, a closed run: the caller falls back
            return None
        return state

    async def final_state(self, description: WorkflowExecutionDescription) -> RunState | None:
        """A finished execution's state from its result or failure (no worker needed)."""
        handle = self.client.get_workflow_handle(
            description.id, run_id=description.run_id, result_type=RunState
        )
        if description.status == WorkflowExecutionStatus.COMPLETED:
            try:
                result: RunState = await handle.result(follow_runs=False)
                return result
            except Exception:
                return None
        if description.status == WorkflowExecutionStatus.FAILED:
            try:
                await handle.result(follow_runs=False)
            except WorkflowFailureError as exc:
                cause = exc.cause
                if isinstance(cause, ApplicationError) and cause.details:
                    try:
                        return RunState.model_validate(cause.details[0])
                    except ValueError:
                        return None
            except Exception:
                return None
        if description.status != WorkflowExecutionStatus.RUNNING:
            return await self.live_state(description.id)
        return None

    async def list(
        self,
        user_id: str,
        *,
        workflow_id: str | None,
        status: str | None,
        limit: int,
        page_token: str | None,
    ) -> ExecutionPage:
        query = visibility_query(JobFilter(user_id=user_id, status=status, job_type=JOB_TYPE))
        if workflow_id:
            query += f" AND {SA_WORKFLOW_ID.name} = {quote(workflow_id)}"
        return await list_jobs(
            self.jobs.client,
            query,
            limit=limit,
            page_token=page_token,
            tokens=self.jobs.tokens,
            owner=user_id,
        )

    async def signal_event(self, user_id: str, execution_id: str, event: RunEvent) -> None:
        """Send an event to a running execution (its ``wait_for_event`` steps take it)."""
        description = await self.describe(user_id, execution_id)
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise JobAlreadyFinished(execution_id)
        await self.client.get_workflow_handle(execution_id).signal(SIGNAL_RUN_EVENT, event)

    async def cancel(self, user_id: str, execution_id: str) -> None:
        description = await self.describe(user_id, execution_id)
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise JobAlreadyFinished(execution_id)
        await self.client.get_workflow_handle(execution_id).cancel()
