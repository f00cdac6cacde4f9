"""Executions for the API: start, read, retry (optionally from a step), cancel.

An execution is written to ``workflow_executions`` before its workflow starts,
which is what makes ``Idempotency-Key`` work: the key is unique per user, a
repeat with the same body gets the same execution back, a repeat with another
body is a 409. Reading prefers the workflow's live ``run_state`` query while it
runs and the recorded final state once it has ended.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from activities.run_slots import SlotKeeper
from engine.models.fairness import NORMAL
from engine.models.jobs import CLOSED_STATUS
from engine.models.runs import RunEvent, RunState, StepState, WorkflowRunInput, json_size
from engine.services import run_plans
from engine.services.definitions import descendants
from engine.services.executions import ExecutionPage, ExecutionService
from engine.services.jobs import JobAlreadyFinished, JobNotFound, JobService
from engine.services.run_slots import RunSlots
from engine.services.sealing import seal_secret_inputs
from settings import Settings
from store import execution_repo, workflow_repo
from store.db import Database, as_utc
from store.errors import ConflictError, InvalidError, NotFoundError
from store.vault import Vault
from store.workflows import ExecutionRecord


class ExecutionNotFound(NotFoundError):
    """No execution with that id belongs to the caller."""

    code = "EXECUTION_NOT_FOUND"


class ExecutionFinished(ConflictError):
    code = "EXECUTION_FINISHED"


class EventTooLarge(InvalidError):
    code = "EVENT_TOO_LARGE"


class ExecutionRunning(ConflictError):
    code = "EXECUTION_RUNNING"


class UnknownStep(InvalidError):
    code = "UNKNOWN_STEP"


class StepNotFound(NotFoundError):
    code = "STEP_NOT_FOUND"


class StepOutputNotFound(NotFoundError):
    code = "STEP_OUTPUT_NOT_FOUND"


MAX_EVENT_BYTES = 64 * 1024  # one event's payload (it goes into the run's history)


def _missing() -> ExecutionNotFound:
    return ExecutionNotFound("Execution not found")


@dataclass(frozen=True)
class Started:
    """An execution's record as started (``replayed``: an earlier call with the same
    ``Idempotency-Key`` had started it; ``message``: why it waits, when it is queued behind
    the user's running-executions cap)."""

    record: ExecutionRecord
    replayed: bool = False
    message: str | None = None


@dataclass(frozen=True)
class FullOutput:
    """One step's whole output, from the run's state or the store."""

    output: Any
    size: int | None


class RunService:
    """Every call names the caller; another user's execution or workflow is a 404."""

    def __init__(self, settings: Settings, db: Database, vault: Vault, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.vault = vault
        self.jobs = jobs
        self.executions = ExecutionService(jobs)
        limits = jobs.fair.cache if jobs.fair is not None else None
        self.slots = RunSlots(jobs.client, db, SlotKeeper(db, settings, limits))

    async def _start(
        self, record: ExecutionRecord, data: WorkflowRunInput, requested: str | None = None
    ) -> str | None:
        """Start the recorded execution at the requested priority; under the user's
        running cap it takes a slot or waits for one (returns why it waits)."""
        placement = await self.slots.place(record.user_id, record.id, data)
        try:
            priority = await self.jobs.priority(record.user_id, NORMAL, requested=requested)
            await self.executions.start(
                record.id, data, priority=priority, message=placement.message
            )
        except BaseException:
            await self.slots.not_started(record.user_id, record.id, placement)
            await execution_repo.delete_execution(self.db, record.id)
            raise
        await self.slots.started(record.user_id, record.id, placement)
        return placement.message

    async def execute(
        self,
        user_id: str,
        workflow_id: str,
        data: dict[str, Any],
        idempotency_key: str | None,
        priority: str | None = None,
    ) -> Started:
        """Start an execution of the current version of the caller's workflow (``priority``:
        high, normal or low among the caller's own work).

        One read gives the version number, and the version itself only when its plan is not
        compiled yet (a version never changes)."""
        plans = run_plans.cached_plans()
        version, row = await workflow_repo.current_version(
            self.db, user_id, workflow_id, known=plans
        )
        plan = run_plans.compiled(row) if row is not None else plans.get((workflow_id, version))
        if plan is None:  # dropped from the cache meanwhile
            _workflow, row = await workflow_repo.load(
                self.db, user_id, workflow_id, version=version
            )
            plan = run_plans.compiled(row)
        run = run_plans.run_input(self.settings, user_id, workflow_id, version, plan, data)
        await run_plans.check_credentials(self.db, user_id, run.plan)
        await seal_secret_inputs(self.db, self.vault, run)
        digest = hashlib.sha256(
            json.dumps({"workflowId": workflow_id, "input": data}, sort_keys=True).encode()
        ).hexdigest()
        record, replayed = await execution_repo.add_execution(
            self.db,
            ExecutionRecord(
                id="exec_" + uuid.uuid4().hex,
                user_id=user_id,
                workflow_id=workflow_id,
                version=version,
                idempotency_key=idempotency_key,
                request_hash=digest,
                input=run.input,
                secret_input_id=run.secret_input_id,
            ),
        )
        message = None
        if not replayed:
            message = await self._start(record, run, priority)
        return Started(record, replayed, message)

    async def _skeleton(self, record: ExecutionRecord) -> RunState:
        """A not-yet-answering execution: every step pending."""
        version = await workflow_repo.find_version(self.db, record.workflow_id, record.version)
        steps = [
            StepState(name=st["name"], type=st["type"])
            for st in (version.definition["steps"] if version else [])
        ]
        return RunState(
            executionId=record.id,
            workflowId=record.workflow_id,
            version=record.version,
            input=record.input,
            steps=steps,
            startedAt=as_utc(record.created_at),
            retryOf=record.retry_of,
            fromStep=record.from_step,
        )

    async def state(self, user_id: str, execution_id: str) -> tuple[RunState, bool]:
        """(state, still running) of one of the caller's executions."""
        svc = self.executions
        record = await execution_repo.get_execution(self.db, user_id, execution_id)
        try:
            description = await svc.describe(user_id, execution_id)
        except JobNotFound:
            if record is not None and record.state is not None:  # Temporal no longer keeps it
                return RunState.model_validate(record.state), False
            raise _missing() from None
        if description.status == WorkflowExecutionStatus.RUNNING:
            live = await svc.live_state(execution_id)
            if live is not None:
                # A run whose status is settled is only recording its end (its steps are
                # done): it counts as finished here, as it shows.
                return live, live.status in ("pending", "running")
            if record is not None:
                return await self._skeleton(record), True
            raise _missing()
        state = None
        if record is not None and record.state is not None:
            state = RunState.model_validate(record.state)
        state = state or await svc.final_state(description)
        if state is None and record is not None:
            state = await self._skeleton(record)
        if state is None:
            raise _missing()
        closed = CLOSED_STATUS.get(description.status, "failed")  # type: ignore[arg-type]
        if state.status in ("pending", "running"):
            state.status = closed  # type: ignore[assignment]
            ended = description.status.name.lower() if description.status else "unknown"
            state.error = state.error or f"execution ended: {ended}"
            state.completedAt = state.completedAt or description.close_time
        return state, False

    async def list(
        self,
        user_id: str,
        *,
        workflow_id: str | None,
        status: str | None,
        limit: int,
        page_token: str | None,
    ) -> ExecutionPage:
        """The caller's executions, newest first (``ValueError`` for a bad filter or token)."""
        return await self.executions.list(
            user_id, workflow_id=workflow_id, status=status, limit=limit, page_token=page_token
        )

    async def send_event(
        self, user_id: str, execution_id: str, name: str, payload: Any, event_id: str | None
    ) -> None:
        """An event for the execution's ``wait_for_event`` steps (409 once it has ended)."""
        if json_size(payload) > MAX_EVENT_BYTES:
            raise EventTooLarge(f"payload is larger than {MAX_EVENT_BYTES} bytes")
        event = RunEvent(name=name, payload=payload, id=event_id)
        try:
            await self.executions.signal_event(user_id, execution_id, event)
        except JobNotFound as exc:
            raise _missing() from exc
        except JobAlreadyFinished as exc:
            raise ExecutionFinished("Execution has already finished") from exc

    async def cancel(self, user_id: str, execution_id: str) -> None:
        try:
            await self.executions.cancel(user_id, execution_id)
        except JobNotFound as exc:
            raise _missing() from exc
        except JobAlreadyFinished as exc:
            raise ExecutionFinished("Execution has already finished") from exc

    async def retry(self, user_id: str, execution_id: str, from_step: str | None) -> Started:
        """A new execution with the same input (and version); ``from_step`` reuses the steps
        before it that succeeded."""
        state, running = await self.state(user_id, execution_id)
        _row, version = await workflow_repo.load(
            self.db, user_id, state.workflowId, version=state.version
        )
        run = run_plans.version_run_input(
            self.settings,
            user_id,
            version,
            state.input,
            retry_of=execution_id,
            from_step=from_step,
            schedule_id=state.scheduleId,
        )
        if from_step is not None:
            if running:
                raise ExecutionRunning(
                    "Execution is still running; cancel it or wait before retrying from a step"
                )
            if from_step not in {st.name for st in run.plan.steps}:
                raise UnknownStep(
                    f"fromStep: no step named {from_step!r}",
                    details={"errors": [{"field": "fromStep", "message": "no such step"}]},
                )
            rerun = descendants(run.plan, from_step)
            run.prior = [
                st.model_copy(update={"reused": True})
                for st in state.steps
                if st.status == "succeeded" and st.name not in rerun
            ]
        await run_plans.check_credentials(self.db, user_id, run.plan)
        earlier = await execution_repo.get_execution(self.db, user_id, execution_id)
        await seal_secret_inputs(
            self.db, self.vault, run, sealed_id=earlier.secret_input_id if earlier else None
        )
        record, _replayed = await execution_repo.add_execution(
            self.db,
            ExecutionRecord(
                id="exec_" + uuid.uuid4().hex,
                user_id=user_id,
                workflow_id=version.workflow_id,
                version=version.version,
                input=run.input,
                secret_input_id=run.secret_input_id,
                retry_of=execution_id,
                from_step=from_step,
            ),
        )
        message = await self._start(record, run)
        return Started(record, message=message)

    async def step_output(self, user_id: str, execution_id: str, step: str) -> FullOutput:
        """A step's whole output, also one too large for workflow history."""
        state, _running = await self.state(user_id, execution_id)
        found = next((st for st in state.steps if st.name == step), None)
        if found is None:
            raise StepNotFound("Step not found")
        if found.outputRef is None:
            return FullOutput(found.output, found.outputSize)
        row = await execution_repo.get_step_output(self.db, user_id, found.outputRef)
        if row is None:
            raise StepOutputNotFound("Step output not found")
        return FullOutput(json.loads(row.data), row.size)
