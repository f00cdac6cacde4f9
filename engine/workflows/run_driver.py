"""What one ``workflow_run`` does, kept out of the workflow's own module.

Workflow code (deterministic, only ``temporalio.workflow`` APIs), passed through
the sandbox: the sandbox re-imports the module that defines a workflow for every
run, so ``engine/workflows/workflow_run.py`` holds only the thin ``@workflow.defn`` shell and
this module is imported once per worker process. It must keep no module-level
mutable state.

The plan (compiled from the definition version the execution started with) is
a DAG: a step starts once every step it depends on has finished, so steps with
no path between them run at the same time. Each step keeps its own status,
attempts, output and error, readable through the ``run_state`` query; coarse
progress goes through the ``JobTracker`` like every job.

Retries are driven here rather than by the activity's retry policy, so the
number of attempts is exact and every failure is seen: a heartbeat timeout (the
worker died) re-dispatches without counting as an attempt. When history grows
past ``history_limit`` events the run stops starting steps, waits for those in
flight, and continues as new carrying every finished step — no step runs twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from engine.models.events import PUBLISH_RETRY, PUBLISH_TIMEOUT, EventInput
from engine.models.jobs import SA_WORKFLOW_ID
from engine.models.runs import (
    FINISH_WORKFLOW_RUN,
    RECORD_WORKFLOW_RUN,
    FinishRunInput,
    RecordRunInput,
    RunEvent,
    RunState,
    StepState,
    WorkflowRunInput,
    start_job_memo,
)
from engine.workflows.events import emit_events, shielded, stamp_events
from engine.workflows.jobs import JobTracker
from engine.workflows.step_runner import RunEvents, StepRunner

DONE = ("succeeded", "failed", "skipped")
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
# Runs from this patch on mirror progress into visibility by time, not by half-way points:
# each upsert costs the server a visibility write, and a short run needs none but its start
# and end (the exact state is always one ``run_state`` query away).
PATCH_TIMED_MIRROR = "workflow-run-timed-mirror"
MIRROR_EVERY = timedelta(seconds=15)
# Runs from this patch on (it implies the timed mirror) end with one local activity that
# records the run and publishes its event, instead of two side by side: one marker, one
# round trip to the worker and one database session fewer per run.
PATCH_ONE_FINISH = "workflow-run-one-finish"
# Runs from this patch on (it implies both above) begin with the job message and metadata
# they were started with (``start_job_memo``), so beginning writes only the status: one
# command, one history event and one visibility write fewer per run.
PATCH_LEAN_BEGIN = "workflow-run-lean-begin"
# Runs queued behind their user's running-executions cap (``data.queued``, set only for
# them) first wait as a ``pending`` job for ``slot_granted``; no other run takes this path,
# so their histories are unchanged.
PATCH_RUN_QUEUE = "workflow-run-queue"


class RunDriver:
    """The state and the steps of one run; the workflow class only forwards to it."""

    def __init__(self) -> None:
        self.job = JobTracker()
        self.job.MIRROR_STEP = 50  # (before the patch) start, half-way and the end of a run
        self.state: RunState | None = None
        self.one_finish = False
        self.slot_granted = False
        self.events = RunEvents()

    def on_event(self, event: RunEvent) -> None:
        """The ``run_event`` signal (it may arrive before the run's first line)."""
        self.events.add(event.model_copy(update={"received_at": workflow.now()}))

    async def run(self, data: WorkflowRunInput) -> RunState:
        info = workflow.info()
        if data.events:  # carried across continue-as-new, before any received since
            self.events.pending[:0] = data.events
        if data.queued and workflow.patched(PATCH_RUN_QUEUE):
            await self._wait_for_slot(data)
        # (Patched runs record only the newest patch's marker; older runs replay as they ran.)
        lean = workflow.patched(PATCH_LEAN_BEGIN)
        self.one_finish = lean or workflow.patched(PATCH_ONE_FINISH)
        if self.one_finish or workflow.patched(PATCH_TIMED_MIRROR):
            self.job.MIRROR_STEP = 10
            self.job.mirror_every = MIRROR_EVERY
        prior = {s.name: s for s in data.prior}
        state = RunState(
            executionId=info.workflow_id,
            workflowId=data.workflow_id,
            version=data.version,
            status="running",
            input=data.input,
            retryOf=data.retry_of,
            fromStep=data.from_step,
            scheduleId=data.schedule_id,
            startedAt=data.started_at or workflow.now(),
            continuedAsNew=data.continued,
            steps=[
                prior.get(s.name) or StepState(name=s.name, type=s.type) for s in data.plan.steps
            ],
        )
        self.state = state
        if info.typed_search_attributes.get(SA_WORKFLOW_ID) is None:
            # Runs started elsewhere (not by the API or a schedule) still list by workflow.
            workflow.upsert_search_attributes([SA_WORKFLOW_ID.value_set(data.workflow_id)])
        if lean:
            message, metadata = start_job_memo(data)
            metadata["finishedSteps"] = finished_steps(state)
            self.job.state.metadata.update(metadata)
            self.job.begin(message, status="running", lean=True)
        else:
            self.job.state.metadata.update(
                {
                    "workflowId": data.workflow_id,
                    "version": data.version,
                    "totalSteps": len(data.plan.steps),
                }
            )
            self.job.begin(f"Running workflow {data.workflow_id}", status="running")
        runner = StepRunner(
            data.plan,
            state,
            user_id=data.user_id,
            heartbeat_timeout=data.heartbeat_timeout_seconds,
            default_timeout=data.default_timeout_seconds,
            secret_input_keys=data.secret_input_keys,
            secret_input_id=data.secret_input_id,
            events=self.events,
        )
        try:
            outcome = await self._drive(runner, data)
        except asyncio.CancelledError:
            await runner.cancel_all()
            for step in state.steps:
                if step.status in ("pending", "running"):
                    step.status = "cancelled"
            await self._finish(data, "cancelled", "Execution cancelled")
            raise
        if outcome == "continue":
            carried = [s for s in state.steps if s.status in DONE]
            workflow.continue_as_new(
                data.model_copy(
                    update={
                        "prior": carried,
                        "started_at": state.startedAt,
                        "continued": data.continued + 1,
                        "queued": False,  # (it holds its slot already)
                        "events": self.events.pending,
                    }
                )
            )
        if outcome != "completed":
            failed = runner.fatal
            assert failed is not None
            step = runner.record(failed)
            message = f"step {failed!r} failed: {step.error}"
            state.errorType = step.errorType
            await self._finish(data, "failed", message)
            raise ApplicationError(
                message,
                state.model_dump(mode="json"),
                type=step.errorType or "StepFailed",
                non_retryable=True,
            )
        state.output = runner.final_output()
        await self._finish(data, "completed", "Execution completed")
        return state

    async def _wait_for_slot(self, data: WorkflowRunInput) -> None:
        """Wait, as a ``pending`` job saying why (the message it was started with), until
        the run that frees a slot of the user's cap signals this one. Cancelled meanwhile,
        it ends without having run a step (and gives up its place in line)."""
        self.job.state.message = workflow.memo_value("message", "", type_hint=str)
        self.job.state.created_at = workflow.info().start_time
        self.state = RunState(
            executionId=workflow.info().workflow_id,
            workflowId=data.workflow_id,
            version=data.version,
            status="pending",
            input=data.input,
            retryOf=data.retry_of,
            fromStep=data.from_step,
            scheduleId=data.schedule_id,
            steps=[StepState(name=s.name, type=s.type) for s in data.plan.steps],
        )
        try:
            await workflow.wait_condition(lambda: self.slot_granted)
        except asyncio.CancelledError:
            for step in self.state.steps:
                step.status = "cancelled"
            self.one_finish = True
            await self._finish(data, "cancelled", "Execution cancelled before it started")
            raise

    async def _drive(self, runner: StepRunner, data: WorkflowRunInput) -> str:
        """Start what is ready, wait for something to finish, repeat."""
        halted = False
        while True:
            if not halted:
                runner.start_ready()
            if not runner.running:
                break
            await workflow.wait(list(runner.running.values()), return_when=asyncio.FIRST_COMPLETED)
            runner.collect()
            self._progress(runner)
            if runner.fatal is not None:
                await runner.cancel_all()
                runner.skip_remaining(f"not run: step {runner.fatal!r} failed")
                return "failed"
            info = workflow.info()
            if not halted and (
                info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= data.history_limit
            ):
                halted = True
        if runner.pending():
            return "continue" if halted else "completed"
        return "completed"

    def _progress(self, runner: StepRunner) -> None:
        total = len(runner.plan.steps)
        finished = sum(1 for s in runner.state.steps if s.status not in ("pending", "running"))
        progress = finished * 100 // total if total else 100
        if self.job.mirror_every is not None:
            # (The patch.) The end is mirrored by complete/fail/cancel right after.
            self.job.update(progress=progress)
        else:
            self.job.update(
                progress=progress,
                metadata={"finishedSteps": finished} if finished == total else None,
            )
        self.job.state.metadata["finishedSteps"] = finished

    async def _finish(self, data: WorkflowRunInput, status: str, message: str) -> None:
        """Record the end (database row, job state) and announce it (webhook events)."""
        state = self.state
        assert state is not None
        state.status = status  # type: ignore[assignment]
        state.completedAt = workflow.now()
        if status == "failed":
            state.error = message
        if self.one_finish:
            await finish_run(data.user_id, state, release_slot=data.counted)
        else:
            record = workflow.execute_local_activity(
                RECORD_WORKFLOW_RUN,
                RecordRunInput(user_id=data.user_id, state=state),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RECORD_RETRY,
            )
            await asyncio.gather(record, emit_events(data.user_id, [workflow_event(state)]))
        self.job.state.metadata["finishedSteps"] = finished_steps(state)
        if status == "completed":
            self.job.complete(message, {"output": state.output})
        elif status == "failed":
            self.job.fail(message, state.errorType)
        else:
            self.job.cancel(message)


def finished_steps(state: RunState) -> int:
    """Steps that ran to an end (succeeded, failed or skipped), reused ones included."""
    return sum(1 for s in state.steps if s.status in DONE)


def workflow_event(state: RunState) -> EventInput:
    """How a run announces its end: ``workflow.completed|failed|cancelled``."""
    event = {
        "completed": "workflow.completed",
        "failed": "workflow.failed",
        "cancelled": "workflow.cancelled",
    }[state.status]
    payload: dict[str, Any] = {
        "workflowId": state.workflowId,
        "executionId": state.executionId,
        "status": state.status,
        "output": state.output,
    }
    if state.error:
        payload["error"] = state.error
    return EventInput(name=event, data=payload)


async def finish_run(user_id: str, state: RunState, *, release_slot: bool = False) -> None:
    """Record the run and publish its event in one local activity, retried until it is done
    (its every step is idempotent); a cancel arriving meanwhile waits for it. A run counted
    against its user's running cap hands its slot on there too (``release_slot``)."""
    events = stamp_events([workflow_event(state)])
    try:
        await shielded(
            workflow.execute_local_activity(
                FINISH_WORKFLOW_RUN,
                FinishRunInput(
                    user_id=user_id, state=state, events=events, release_slot=release_slot
                ),
                start_to_close_timeout=PUBLISH_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
            )
        )
    except ActivityError as err:
        # Only a non-retryable failure (a bug in the record or the event) gets here.
        workflow.logger.error("run %s not recorded: %s", state.executionId, err)
