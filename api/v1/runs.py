"""Starting, reading, retrying and cancelling executions (one function per handler).

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
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus

from api.errors import Conflict, NotFound, Unprocessable
from api.state import Services
from api.v1 import workflow_defs
from api.v1.workflow_schemas import (
    MAX_INPUT_BYTES,
    ExecuteResponse,
    ExecutionList,
    ExecutionListQuery,
    ExecutionSummary,
    ExecutionView,
    Pagination,
    StepOutputView,
)
from connectors.registry import find_tool
from engine.models.runs import Plan, RunState, StepState, WorkflowRunInput, json_size
from engine.services.definitions import DefinitionError, compile_plan, descendants
from engine.services.executions import ExecutionService
from engine.services.jobs import JobAlreadyFinished, JobNotFound
from store import credentials
from store.db import as_utc
from store.workflows import ExecutionRecord, StepOutput, WorkflowDef, WorkflowVersion

CLOSED = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "failed",
    WorkflowExecutionStatus.TERMINATED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
}


# A version never changes, so its compiled plan is kept (a small FIFO per API process).
PLAN_CACHE = 256
_plans: dict[tuple[str, int], Plan] = {}


def not_found() -> NotFound:
    return NotFound("Execution not found", code="EXECUTION_NOT_FOUND")


def compiled(version: WorkflowVersion) -> Plan:
    plan = _plans.get((version.workflow_id, version.version))
    if plan is None:
        try:
            plan = compile_plan(version.definition, {k: v["id"] for k, v in version.sealed.items()})
        except DefinitionError as exc:  # a connector or action went away since it was saved
            raise workflow_defs.definition_error(exc) from exc
        if len(_plans) >= PLAN_CACHE:
            _plans.pop(next(iter(_plans)))
        _plans[(version.workflow_id, version.version)] = plan
    return plan


def run_input(
    s: Services,
    user_id: str,
    row: WorkflowDef,
    version: WorkflowVersion,
    data: dict[str, Any],
    **extra: Any,
) -> WorkflowRunInput:
    return _run(s, user_id, row.id, version.version, compiled(version), data, **extra)


def _run(
    s: Services,
    user_id: str,
    workflow_id: str,
    version: int,
    plan: Plan,
    data: dict[str, Any],
    **extra: Any,
) -> WorkflowRunInput:
    if json_size(data) > MAX_INPUT_BYTES:
        raise Unprocessable(f"input is larger than {MAX_INPUT_BYTES} bytes", code="INPUT_TOO_LARGE")
    return WorkflowRunInput(
        user_id=user_id,
        workflow_id=workflow_id,
        version=version,
        plan=plan,
        input=data,
        history_limit=s.settings.workflow_history_limit,
        heartbeat_timeout_seconds=s.settings.activity_heartbeat_timeout_seconds,
        default_timeout_seconds=s.settings.http_timeout_seconds + 30,
        **extra,
    )


def _step_error(step: str, field: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"step {step!r}: {field}: {message}",
        code="INVALID_CREDENTIALS",
        details={"errors": [{"step": step, "field": field, "message": message}]},
    )


async def check_credentials(s: Services, user_id: str, plan: Plan) -> None:
    """Every credential and connector a run uses must be the caller's own (else 422)."""
    for step in plan.steps:
        found = find_tool(step.tool) if step.tool else None
        if found is None:
            continue
        connector = found[0]
        if step.credential_id and step.credential_id.startswith(credentials.CREDENTIAL_PREFIX):
            if await credentials.get_owned(s.db, user_id, step.credential_id) is None:
                raise _step_error(step.name, "credentialId", "credential not found")
        elif step.connector_id:
            instance = await credentials.get_instance(s.db, user_id, step.connector_id)
            if instance is None:
                raise _step_error(step.name, "connectorId", "connector not found")
            if instance.type != connector.type:
                raise _step_error(
                    step.name,
                    "connectorId",
                    f"is a {instance.type} connector, not {connector.type}",
                )
        elif not step.credential_id and connector.requires_credentials:
            raise _step_error(
                step.name,
                "credentialId",
                f"the {connector.type} connector needs credentialId or connectorId",
            )


def _response(record: ExecutionRecord) -> ExecuteResponse:
    return ExecuteResponse(
        executionId=record.id,
        status="pending",
        startedAt=as_utc(record.created_at),  # type: ignore[arg-type]
        workflowId=record.workflow_id,
        version=record.version,
    )


async def _start(s: Services, record: ExecutionRecord, data: WorkflowRunInput) -> None:
    try:
        await ExecutionService(s.jobs).start(record.id, data)
    except BaseException:
        async with s.db.session() as session:
            row = await session.get(ExecutionRecord, record.id)
            if row is not None:
                await session.delete(row)
                await session.commit()
        raise


async def execute(
    s: Services, user_id: str, workflow_id: str, data: dict[str, Any], idempotency_key: str | None
) -> tuple[ExecuteResponse, bool]:
    """Start an execution of the current version; (response, whether it was a replay).

    One database session reads the version number, the version itself only when its plan
    is not cached yet (a version never changes), and writes the execution's row."""
    async with s.db.session() as session:
        version = await workflow_defs.current_version(session, user_id, workflow_id)
        plan = _plans.get((workflow_id, version))
        if plan is None:
            plan = compiled(await workflow_defs.load_version(session, workflow_id, version))
        run = _run(s, user_id, workflow_id, version, plan, data)
        await check_credentials(s, user_id, run.plan)
        digest = hashlib.sha256(
            json.dumps({"workflowId": workflow_id, "input": data}, sort_keys=True).encode()
        ).hexdigest()
        record = ExecutionRecord(
            id="exec_" + uuid.uuid4().hex,
            user_id=user_id,
            workflow_id=workflow_id,
            version=version,
            idempotency_key=idempotency_key,
            request_hash=digest,
            input=data,
        )
        session.add(record)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            existing = (
                await session.exec(
                    select(ExecutionRecord).where(
                        ExecutionRecord.user_id == user_id,
                        ExecutionRecord.idempotency_key == idempotency_key,
                    )
                )
            ).first()
            if existing is None:
                raise
            if existing.request_hash != digest:
                raise Conflict(
                    "Idempotency-Key was already used with a different request",
                    code="IDEMPOTENCY_KEY_REUSED",
                ) from None
            return _response(existing), True
    await _start(s, record, run)
    return _response(record), False


async def _record(s: Services, user_id: str, execution_id: str) -> ExecutionRecord | None:
    async with s.db.session() as session:
        row = await session.get(ExecutionRecord, execution_id)
    return row if row is not None and row.user_id == user_id else None


async def _skeleton(s: Services, record: ExecutionRecord) -> RunState:
    """A not-yet-answering execution: every step pending."""
    async with s.db.session() as session:
        version = await session.get(WorkflowVersion, (record.workflow_id, record.version))
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


async def load_state(s: Services, user_id: str, execution_id: str) -> tuple[RunState, bool]:
    """(state, still running) of one of the caller's executions; 404 otherwise."""
    svc = ExecutionService(s.jobs)
    record = await _record(s, user_id, execution_id)
    try:
        description = await svc.describe(user_id, execution_id)
    except JobNotFound:
        if record is not None and record.state is not None:  # Temporal no longer keeps it
            return RunState.model_validate(record.state), False
        raise not_found() from None
    if description.status == WorkflowExecutionStatus.RUNNING:
        live = await svc.live_state(execution_id)
        if live is not None:
            # A run whose status is settled is only recording its end (its steps are done):
            # it counts as finished here, as it shows.
            return live, live.status in ("pending", "running")
        if record is not None:
            return await _skeleton(s, record), True
        raise not_found()
    state = None
    if record is not None and record.state is not None:
        state = RunState.model_validate(record.state)
    state = state or await svc.final_state(description)
    if state is None and record is not None:
        state = await _skeleton(s, record)
    if state is None:
        raise not_found()
    closed = CLOSED.get(description.status, "failed")  # type: ignore[arg-type]
    if state.status in ("pending", "running"):
        state.status = closed  # type: ignore[assignment]
        ended = description.status.name.lower() if description.status else "unknown"
        state.error = state.error or f"execution ended: {ended}"
        state.completedAt = state.completedAt or description.close_time
    return state, False


def view(state: RunState) -> ExecutionView:
    total = len(state.steps)
    finished = sum(1 for st in state.steps if st.status not in ("pending", "running"))
    progress = 100 if state.status == "completed" else (finished * 100 // total if total else 0)
    return ExecutionView(
        id=state.executionId,
        executionId=state.executionId,
        workflowId=state.workflowId,
        version=state.version,
        status=state.status,
        progress=progress,
        finishedSteps=finished,
        totalSteps=total,
        input=state.input,
        output=state.output,
        error=state.error,
        errorType=state.errorType,
        steps=state.steps,
        startedAt=state.startedAt,
        completedAt=state.completedAt,
        retryOf=state.retryOf,
        fromStep=state.fromStep,
        scheduleId=state.scheduleId,
    )


async def get(s: Services, user_id: str, execution_id: str) -> ExecutionView:
    state, _running = await load_state(s, user_id, execution_id)
    return view(state)


async def listing(s: Services, user_id: str, q: ExecutionListQuery) -> ExecutionList:
    page = await ExecutionService(s.jobs).list(
        user_id, workflow_id=q.workflowId, status=q.status, limit=q.limit, page_token=q.pageToken
    )
    items = []
    for job in page.jobs:
        meta = job.metadata
        items.append(
            ExecutionSummary(
                id=job.id,
                executionId=job.id,
                workflowId=meta.get("workflowId"),
                version=meta.get("version"),
                status=job.status,  # type: ignore[arg-type]
                progress=job.progress,
                finishedSteps=meta.get("finishedSteps"),
                totalSteps=meta.get("totalSteps"),
                message=job.message,
                startedAt=job.createdAt,
                completedAt=job.completedAt,
            )
        )
    return ExecutionList(
        executions=items,
        pagination=Pagination(
            limit=q.limit,
            nextPageToken=page.next_page_token,
            hasMore=page.next_page_token is not None,
        ),
    )


async def cancel(s: Services, user_id: str, execution_id: str) -> None:
    try:
        await ExecutionService(s.jobs).cancel(user_id, execution_id)
    except JobNotFound as exc:
        raise not_found() from exc
    except JobAlreadyFinished as exc:
        raise Conflict("Execution has already finished", code="EXECUTION_FINISHED") from exc


async def retry(
    s: Services, user_id: str, execution_id: str, from_step: str | None
) -> ExecuteResponse:
    """A new execution with the same input (and version); ``from_step`` reuses what came before."""
    state, running = await load_state(s, user_id, execution_id)
    row, version = await workflow_defs.load(s.db, user_id, state.workflowId, version=state.version)
    run = run_input(
        s,
        user_id,
        row,
        version,
        state.input,
        retry_of=execution_id,
        from_step=from_step,
        schedule_id=state.scheduleId,
    )
    if from_step is not None:
        if running:
            raise Conflict(
                "Execution is still running; cancel it or wait before retrying from a step",
                code="EXECUTION_RUNNING",
            )
        if from_step not in {st.name for st in run.plan.steps}:
            raise Unprocessable(
                f"fromStep: no step named {from_step!r}",
                code="UNKNOWN_STEP",
                details={"errors": [{"field": "fromStep", "message": "no such step"}]},
            )
        rerun = descendants(run.plan, from_step)
        run.prior = [
            st.model_copy(update={"reused": True})
            for st in state.steps
            if st.status == "succeeded" and st.name not in rerun
        ]
    await check_credentials(s, user_id, run.plan)
    record = ExecutionRecord(
        id="exec_" + uuid.uuid4().hex,
        user_id=user_id,
        workflow_id=row.id,
        version=version.version,
        input=state.input,
        retry_of=execution_id,
        from_step=from_step,
    )
    async with s.db.session() as session:
        session.add(record)
        await session.commit()
    await _start(s, record, run)
    return _response(record)


async def step_output(s: Services, user_id: str, execution_id: str, step: str) -> StepOutputView:
    state, _running = await load_state(s, user_id, execution_id)
    found = next((st for st in state.steps if st.name == step), None)
    if found is None:
        raise NotFound("Step not found", code="STEP_NOT_FOUND")
    if found.outputRef is None:
        return StepOutputView(
            executionId=execution_id, step=step, output=found.output, size=found.outputSize
        )
    async with s.db.session() as session:
        row = await session.get(StepOutput, found.outputRef)
    if row is None or row.user_id != user_id:
        raise NotFound("Step output not found", code="STEP_OUTPUT_NOT_FOUND")
    return StepOutputView(
        executionId=execution_id, step=step, output=json.loads(row.data), size=row.size
    )
