"""Activities of ``workflow_run``: run one step, fetch large outputs, record how a run ended.

A step is one connector action run through ``ToolActivities.run_tool_action``
(the same code path as ``POST /api/v1/tools/execute``), with two additions: a
``connectorId`` is resolved here to its credential and config (owner checked),
and an output too large for workflow history is stored in
``workflow_step_outputs`` and handed back by reference.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import to_application_error
from activities.events import EventActivities, EventInput, PublishEventsInput, PublishEventsOutput
from activities.tools import RunToolInput, ToolActivities
from connectors.errors import InvalidInputError, NotFoundError
from connectors.registry import find_tool
from store import credentials
from store.db import Database, dialect_insert, utcnow
from store.workflows import ExecutionRecord, StepOutput

StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"]
RunStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
REF_KEY = "$ref"


class StepState(BaseModel):
    """What a user sees of one step of one execution."""

    name: str
    type: str
    status: StepStatus = "pending"
    attempts: int = 0
    output: Any = None
    outputRef: str | None = None
    outputSize: int | None = None
    error: str | None = None
    errorType: str | None = None
    reason: str | None = None  # why a skipped step did not run
    startedAt: datetime | None = None
    finishedAt: datetime | None = None
    reused: bool = False


class RunState(BaseModel):
    """An execution as a whole: the ``run_state`` query, the result, the stored record."""

    executionId: str
    workflowId: str
    version: int
    status: RunStatus = "pending"
    input: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepState] = Field(default_factory=list)
    output: Any = None
    error: str | None = None
    errorType: str | None = None
    startedAt: datetime | None = None
    completedAt: datetime | None = None
    retryOf: str | None = None
    fromStep: str | None = None
    scheduleId: str | None = None
    continuedAsNew: int = 0


class StepRunInput(BaseModel):
    user_id: str
    execution_id: str
    step: str
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    credential_id: str | None = None
    connector_id: str | None = None
    sealed_secret_id: str | None = None
    inline_limit: int = 32 * 1024


class StepRunOutput(BaseModel):
    output: Any = None
    ref: str | None = None
    size: int = 0


class OutputPath(BaseModel):
    ref: str
    path: list[str | int] = Field(default_factory=list)


class LoadOutputsInput(BaseModel):
    user_id: str
    paths: list[OutputPath]


class LoadOutputsOutput(BaseModel):
    values: list[Any]


class RecordRunInput(BaseModel):
    user_id: str
    state: RunState


class FinishRunInput(RecordRunInput):
    """How a run ended and the events that announce it (ids stamped by the workflow)."""

    events: list[EventInput] = Field(default_factory=list)


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def ref_marker(ref: str, size: int) -> dict[str, Any]:
    """How a by-reference output shows in results (fetch it from the step-output route)."""
    return {REF_KEY: ref, "size": size}


def _walk(value: Any, path: list[str | int]) -> Any:
    for part in path:
        if isinstance(value, dict):
            value = value.get(str(part))
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            return None
    return value


class WorkflowStepActivities:
    """Holds the tool activities it delegates to, the database for outputs and records, and
    the event publisher a run's end goes through."""

    def __init__(self, tools: ToolActivities, db: Database, events: EventActivities) -> None:
        self.tools = tools
        self.db = db
        self.events = events

    async def _connector(self, data: StepRunInput) -> tuple[str | None, dict[str, Any]]:
        """(credential id, config) of a connector instance the user owns."""
        assert data.connector_id is not None
        row = await credentials.get_instance(self.db, data.user_id, data.connector_id)
        if row is None:
            raise NotFoundError(f"connector {data.connector_id!r} not found")
        found = find_tool(data.tool)
        if found is not None and found[0].type != row.type:
            raise InvalidInputError(
                f"connector {data.connector_id!r} is a {row.type} connector, not {found[0].type}"
            )
        return row.credential_id, dict(row.config)

    @activity.defn(name="run_workflow_step")
    async def run_workflow_step(self, data: StepRunInput) -> StepRunOutput:
        credential_id, config = data.credential_id, dict[str, Any]()
        try:
            if data.connector_id:
                credential_id, config = await self._connector(data)
        except Exception as exc:
            raise to_application_error(exc) from None
        output = await self.tools.run_tool_action(
            RunToolInput(
                user_id=data.user_id,
                tool_name=data.tool,
                params=data.params,
                sealed_secret_id=data.sealed_secret_id,
                credential_id=credential_id,
                config=config,
            )
        )
        size = json_size(output)
        if size <= data.inline_limit:
            return StepRunOutput(output=output, size=size)
        row = StepOutput(user_id=data.user_id, execution_id=data.execution_id, step=data.step,
                         data=json.dumps(output, separators=(",", ":")), size=size)
        await self.db.save(row)
        return StepRunOutput(ref=row.id, size=size)

    @activity.defn(name="load_step_outputs")
    async def load_step_outputs(self, data: LoadOutputsInput) -> LoadOutputsOutput:
        """The values at the given paths of stored outputs (what a template reads)."""
        refs = sorted({p.ref for p in data.paths})
        async with self.db.session() as session:
            statement = select(StepOutput).where(col(StepOutput.id).in_(refs))
            rows = (await session.exec(statement)).all()
        loaded = {r.id: json.loads(r.data) for r in rows if r.user_id == data.user_id}
        missing = [ref for ref in refs if ref not in loaded]
        if missing:
            raise ApplicationError(f"step outputs {missing} not found", type="NotFoundError",
                                   non_retryable=True)
        return LoadOutputsOutput(values=[_walk(loaded[p.ref], p.path) for p in data.paths])

    @activity.defn(name="record_workflow_run")
    async def record_workflow_run(self, data: RecordRunInput) -> None:
        """Keep the final state so a finished run reads back without Temporal or a worker."""
        state = data.state
        now = utcnow()
        async with self.db.session() as session:
            insert = dialect_insert(session, ExecutionRecord).values(
                id=state.executionId, user_id=data.user_id, workflow_id=state.workflowId,
                version=state.version, input=state.input, retry_of=state.retryOf,
                from_step=state.fromStep, schedule_id=state.scheduleId, status=state.status,
                state=state.model_dump(mode="json"), created_at=now,
                completed_at=state.completedAt or now,
            )
            # Written by the API when it started the run; a run started elsewhere (a
            # schedule) gets its row here.
            await session.exec(insert.on_conflict_do_update(index_elements=["id"], set_={
                "status": insert.excluded.status, "state": insert.excluded.state,
                "completed_at": insert.excluded.completed_at,
            }))
            await session.commit()

    @activity.defn(name="finish_workflow_run")
    async def finish_workflow_run(self, data: FinishRunInput) -> PublishEventsOutput:
        """Record the end and publish its events: one local activity (one marker) per run."""
        await self.record_workflow_run(data)
        return await self.events.publish_events(
            PublishEventsInput(user_id=data.user_id, events=data.events))
