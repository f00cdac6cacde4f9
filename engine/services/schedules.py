"""Workflow schedules on Temporal Schedules: cron in an IANA time zone, overlap policy, pause.

Each schedule's action starts an ordinary ``WorkflowRunWorkflow`` on the
workflows queue with the job search attributes, so scheduled runs are
executions and jobs like any other, and operators see the schedule in the
Temporal UI. When the definition changes, the action is updated to the new
version (``refresh``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import (
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from engine.models import queues, summaries
from engine.models.fairness import BULK
from engine.models.jobs import SA_WORKFLOW_ID, start_attributes, start_memo
from engine.models.runs import RUN_WORKFLOW, WorkflowRunInput, start_job_memo
from engine.services.jobs import JobService
from store.errors import NotFoundError

OVERLAP: dict[str, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
    "cancel_previous": ScheduleOverlapPolicy.CANCEL_OTHER,
}
OVERLAP_NAMES = {v: k for k, v in OVERLAP.items()}


class ScheduleNotFound(NotFoundError):
    """Temporal has no schedule with that id (or the caller owns none)."""

    code = "SCHEDULE_NOT_FOUND"


def _missing() -> ScheduleNotFound:
    return ScheduleNotFound("Schedule not found")


@dataclass(frozen=True)
class ScheduleStatus:
    """What Temporal knows of a schedule."""

    paused: bool
    overlap_policy: str
    next_run_times: list[datetime]
    recent_executions: list[str]
    running_executions: list[str]
    num_runs: int


def _execution_ids(actions: list[object]) -> list[str]:
    ids = []
    for action in actions:
        inner = getattr(action, "action", action)
        if isinstance(inner, ScheduleActionExecutionStartWorkflow):
            ids.append(inner.workflow_id)
    return ids


class ScheduleService:
    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.client = jobs.client

    async def _priority(self, user_id: str) -> Priority:
        """Scheduled runs are bulk work: nobody waits on them as they start."""
        return await self.jobs.priority(user_id, BULK)

    async def _action(self, schedule_id: str, run: WorkflowRunInput) -> ScheduleActionStartWorkflow:
        priority = await self._priority(run.user_id)
        attributes = start_attributes(run.user_id, "workflow_run", priority)
        return ScheduleActionStartWorkflow(
            RUN_WORKFLOW,
            run,
            id=f"exec_{schedule_id}",  # Temporal appends the scheduled time
            task_queue=self.jobs.queue(queues.WORKFLOWS),
            typed_search_attributes=TypedSearchAttributes(
                [
                    *attributes.search_attributes,
                    SearchAttributePair(SA_WORKFLOW_ID, run.workflow_id),
                ]
            ),
            memo=start_memo(*start_job_memo(run)),  # what its run begins with (lean begin)
            static_summary=summaries.workflow_run(run.workflow_id, run.version, schedule_id),
            priority=priority,
        )

    async def create(
        self,
        schedule_id: str,
        run: WorkflowRunInput,
        *,
        cron: str,
        timezone: str,
        overlap: str,
        paused: bool,
        note: str | None,
    ) -> None:
        await self.client.create_schedule(
            schedule_id,
            Schedule(
                action=await self._action(schedule_id, run),
                spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=timezone),
                policy=SchedulePolicy(overlap=OVERLAP[overlap]),
                state=ScheduleState(paused=paused, note=note),
            ),
        )

    async def status(self, schedule_id: str) -> ScheduleStatus:
        try:
            desc: ScheduleDescription = await self.client.get_schedule_handle(
                schedule_id
            ).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise _missing() from exc
            raise
        paused = desc.schedule.state.paused
        return ScheduleStatus(
            paused=paused,
            overlap_policy=OVERLAP_NAMES.get(desc.schedule.policy.overlap, "skip"),
            next_run_times=[] if paused else list(desc.info.next_action_times),
            recent_executions=_execution_ids(list(desc.info.recent_actions)),
            running_executions=_execution_ids(list(desc.info.running_actions)),
            num_runs=desc.info.num_actions,
        )

    async def update(
        self,
        schedule_id: str,
        *,
        run: WorkflowRunInput | None = None,
        cron: str | None = None,
        timezone: str | None = None,
        overlap: str | None = None,
        paused: bool | None = None,
    ) -> None:
        handle = self.client.get_schedule_handle(schedule_id)
        action = await self._action(schedule_id, run) if run is not None else None

        def change(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule = current.description.schedule
            if action is not None:
                schedule.action = action
            if cron is not None or timezone is not None:
                spec = schedule.spec
                schedule.spec = ScheduleSpec(
                    cron_expressions=[cron] if cron is not None else list(spec.cron_expressions),
                    calendars=[] if cron is not None else list(spec.calendars),
                    time_zone_name=timezone if timezone is not None else spec.time_zone_name,
                )
            if overlap is not None:
                schedule.policy.overlap = OVERLAP[overlap]
            if paused is not None:
                schedule.state.paused = paused
            return ScheduleUpdate(schedule=schedule)

        try:
            await handle.update(change)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise _missing() from exc
            raise

    async def trigger(self, schedule_id: str) -> None:
        try:
            await self.client.get_schedule_handle(schedule_id).trigger()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise _missing() from exc
            raise

    async def delete(self, schedule_id: str) -> None:
        try:
            await self.client.get_schedule_handle(schedule_id).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
