"""Activities of ``workflow_run``: run one step, fetch large outputs, record how a run ended.

A step is one connector action run through ``ToolActivities.run_tool_action``
(the same code path as ``POST /api/v1/tools/execute``), with two additions: a
``connectorId`` is resolved here to its credential and config (owner checked),
and an output too large for workflow history is stored in
``workflow_step_outputs`` and handed back by reference.
"""

from __future__ import annotations

import json
import re
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import to_application_error
from activities.events import EventActivities
from activities.run_slots import SlotKeeper
from activities.tools import ToolActivities
from connectors.errors import InvalidInputError, NotFoundError
from connectors.registry import find_tool
from engine.models.events import PublishEventsInput, PublishEventsOutput
from engine.models.runs import (
    FINISH_WORKFLOW_RUN,
    LOAD_STEP_OUTPUTS,
    RECORD_WORKFLOW_RUN,
    RUN_WORKFLOW_STEP,
    SECRET_MARK,
    FinishRunInput,
    LoadOutputsInput,
    LoadOutputsOutput,
    RecordRunInput,
    StepRunInput,
    StepRunOutput,
    json_size,
)
from engine.models.tools import RunToolInput
from store import credentials, execution_repo
from store.db import Database
from store.workflows import StepOutput


def _walk(value: Any, path: list[str | int]) -> Any:
    for part in path:
        if isinstance(value, dict):
            value = value.get(str(part))
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            return None
    return value


PLACEHOLDER = re.compile(
    re.escape(SECRET_MARK)
    + r"secret:([^"
    + re.escape(SECRET_MARK)
    + r"]{1,100})"
    + re.escape(SECRET_MARK)
)


def fill_secrets(value: Any, secrets: dict[str, Any]) -> Any:
    """``value`` with each secret-input placeholder replaced by the sealed value (a string
    that is one placeholder takes the value as it is, JSON type and all)."""
    if isinstance(value, str):
        if SECRET_MARK not in value:
            return value
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return _secret(secrets, whole.group(1))
        return PLACEHOLDER.sub(lambda m: _as_text(_secret(secrets, m.group(1))), value)
    if isinstance(value, dict):
        return {k: fill_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_secrets(v, secrets) for v in value]
    return value


def _secret(secrets: dict[str, Any], name: str) -> Any:
    if name not in secrets:
        raise InvalidInputError(f"secret input {name!r} was not given")
    return secrets[name]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class WorkflowStepActivities:
    """Holds the tool activities it delegates to, the database for outputs and records, and
    the event publisher a run's end goes through."""

    def __init__(
        self,
        tools: ToolActivities,
        db: Database,
        events: EventActivities,
        slots: SlotKeeper | None = None,
    ) -> None:
        self.tools = tools
        self.db = db
        self.events = events
        self.slots = slots  # hands on the slot of a run counted against its user's cap

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

    @activity.defn(name=RUN_WORKFLOW_STEP)
    async def run_workflow_step(self, data: StepRunInput) -> StepRunOutput:
        credential_id, config = data.credential_id, dict[str, Any]()
        try:
            if data.connector_id:
                credential_id, config = await self._connector(data)
        except Exception as exc:
            raise to_application_error(exc) from None
        params = data.params
        if data.secret_input_id:
            try:
                opened = await self.tools.secrets.open_sealed(data.user_id, data.secret_input_id)
                params = fill_secrets(params, opened)
            except Exception as exc:
                raise to_application_error(exc) from None
        output = await self.tools.run_tool_action(
            RunToolInput(
                user_id=data.user_id,
                tool_name=data.tool,
                params=params,
                sealed_secret_id=data.sealed_secret_id,
                credential_id=credential_id,
                config=config,
            )
        )
        size = json_size(output)
        if size <= data.inline_limit:
            return StepRunOutput(output=output, size=size)
        row = StepOutput(
            user_id=data.user_id,
            execution_id=data.execution_id,
            step=data.step,
            data=json.dumps(output, separators=(",", ":")),
            size=size,
        )
        await self.db.save(row)
        return StepRunOutput(ref=row.id, size=size)

    @activity.defn(name=LOAD_STEP_OUTPUTS)
    async def load_step_outputs(self, data: LoadOutputsInput) -> LoadOutputsOutput:
        """The values at the given paths of stored outputs (what a template reads)."""
        refs = sorted({p.ref for p in data.paths})
        rows = await execution_repo.step_outputs(self.db, data.user_id, refs)
        loaded = {r.id: json.loads(r.data) for r in rows}
        missing = [ref for ref in refs if ref not in loaded]
        if missing:
            raise ApplicationError(
                f"step outputs {missing} not found", type="NotFoundError", non_retryable=True
            )
        return LoadOutputsOutput(values=[_walk(loaded[p.ref], p.path) for p in data.paths])

    @activity.defn(name=RECORD_WORKFLOW_RUN)
    async def record_workflow_run(self, data: RecordRunInput) -> None:
        """Keep the final state so a finished run reads back without Temporal or a worker."""
        state = data.state
        await execution_repo.record_end(
            self.db,
            execution_id=state.executionId,
            user_id=data.user_id,
            workflow_id=state.workflowId,
            version=state.version,
            input=state.input,
            retry_of=state.retryOf,
            from_step=state.fromStep,
            schedule_id=state.scheduleId,
            status=state.status,
            state=state.model_dump(mode="json"),
            completed_at=state.completedAt,
        )

    @activity.defn(name=FINISH_WORKFLOW_RUN)
    async def finish_workflow_run(self, data: FinishRunInput) -> PublishEventsOutput:
        """Record the end and publish its events: one local activity (one marker) per run.
        A run counted against its user's running cap then hands its slot on."""
        await self.record_workflow_run(data)
        published = await self.events.publish_events(
            PublishEventsInput(user_id=data.user_id, events=data.events)
        )
        if data.release_slot and self.slots is not None:
            await self.slots.release(activity.client(), data.user_id, data.state.executionId)
        return published
