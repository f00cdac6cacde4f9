"""User-defined workflows: the definition users save, the plan a run follows, and a run's
state as the ``run_state`` query, the result and the stored record show it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.models.events import EventInput

RUN_WORKFLOW = "WorkflowRunWorkflow"
QUERY_RUN_STATE = "run_state"
# A run queued behind its user's running-executions cap waits for this (store.slot_repo).
SIGNAL_SLOT_GRANTED = "slot_granted"
RUN_WORKFLOW_STEP = "run_workflow_step"
LOAD_STEP_OUTPUTS = "load_step_outputs"
RECORD_WORKFLOW_RUN = "record_workflow_run"
FINISH_WORKFLOW_RUN = "finish_workflow_run"
PREPARE_LINKEDIN_STEP = "prepare_linkedin_step"
SIGNAL_RUN_EVENT = "run_event"

# ---- definitions and plans -------------------------------------------------------------

MAX_STEPS = 500
CONTROL_TYPES = ("delay", "condition", "wait_for_event", "linkedin_action")
MAX_DELAY_MS = 30 * 24 * 3600 * 1000
EVENT_NAME = r"^[A-Za-z0-9_.:\-]+$"
MAX_BUFFERED_EVENTS = 100  # events a run keeps that no step has taken yet
REDACTED = "********"  # a sealed secret as shown back; sending it again keeps the secret


class RetrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxAttempts: int = Field(default=3, ge=1, le=20)
    backoffMs: int = Field(default=1000, ge=0, le=3_600_000)


class StepDef(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=128)
    config: dict[str, Any] = Field(default_factory=dict)
    credentialId: str | None = Field(default=None, max_length=100)
    connectorId: str | None = Field(default=None, max_length=100)
    dependsOn: list[str] = Field(default_factory=list, max_length=MAX_STEPS)
    if_: str | None = Field(default=None, alias="if", max_length=2000)
    retry: RetrySpec | None = None
    timeoutMs: int | None = Field(default=None, ge=1, le=3_600_000)
    continueOnError: bool = False


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[StepDef] = Field(min_length=1, max_length=MAX_STEPS)
    output: Any = None
    # Input fields that are secrets: sealed when an execution starts, never in history.
    secretInputs: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )

    def public(self) -> dict[str, Any]:
        shown = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if not shown["secretInputs"]:
            del shown["secretInputs"]  # definitions without secret inputs read as they did
        return shown


class DelayConfig(BaseModel):
    """``{"ms": 5000}``: wait that long (a durable timer, not a sleeping worker)."""

    model_config = ConfigDict(extra="forbid")

    ms: int = Field(ge=0, le=MAX_DELAY_MS)


class ConditionConfig(BaseModel):
    """``{"expression": "...", "then": [...], "else": [...]}``: choose which steps run."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    expression: str = Field(min_length=1, max_length=2000)
    then: list[str] = Field(default_factory=list)
    else_: list[str] = Field(default_factory=list, alias="else")


class WaitForEventConfig(BaseModel):
    """``{"event": "approval", "timeoutMs": 86400000}``: wait until ``POST
    /api/v1/executions/{id}/events {"name": "approval", "payload": …}`` arrives (an event
    sent before the step starts waits for it), or time out: ``onTimeout`` ``fail`` (the
    default) fails the step, ``continue`` succeeds with ``timedOut: true``."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=100, pattern=EVENT_NAME)
    timeoutMs: int = Field(default=7 * 24 * 3600 * 1000, ge=1000, le=MAX_DELAY_MS)
    onTimeout: Literal["fail", "continue"] = "fail"


class LinkedInActionConfig(BaseModel):
    """One LinkedIn action through the user's account governor (caps, working hours and
    delays hold across everything the account does); runs as a ``linkedin_action`` job."""

    model_config = ConfigDict(extra="forbid")

    actionType: Literal[
        "sendConnectionRequest",
        "sendMessage",
        "viewProfile",
        "followProfile",
        "likePost",
        "withdrawConnectionRequest",
    ]
    profileUrl: str = Field(min_length=1, max_length=500)
    message: str | None = Field(default=None, max_length=8000)
    note: str | None = Field(default=None, max_length=300)
    postUrl: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _fits(self) -> LinkedInActionConfig:
        if self.actionType == "sendMessage" and not self.message:
            raise ValueError("sendMessage needs a message")
        if self.actionType == "likePost" and not self.postUrl:
            raise ValueError("likePost needs a postUrl")
        if self.note is not None and self.actionType != "sendConnectionRequest":
            raise ValueError("note is only used with sendConnectionRequest")
        return self


CONTROL_MODELS: dict[str, type[BaseModel]] = {
    "delay": DelayConfig,
    "condition": ConditionConfig,
    "wait_for_event": WaitForEventConfig,
    "linkedin_action": LinkedInActionConfig,
}


class PlanStep(BaseModel):
    name: str
    type: str
    kind: Literal["action", "delay", "condition", "wait_for_event", "linkedin_action"]
    tool: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    credential_id: str | None = None
    connector_id: str | None = None
    sealed_secret_id: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    if_: str | None = None
    max_attempts: int = 3
    backoff_ms: int = 1000
    timeout_ms: int | None = None
    continue_on_error: bool = False


class Plan(BaseModel):
    steps: list[PlanStep]
    output: Any = None
    # Top-level input fields kept out of history: declared secret, or read by a secret-shaped
    # part of a step's config (``auth``, credential headers…).
    secret_inputs: list[str] = Field(default_factory=list)


# ---- a run ----------------------------------------------------------------------------

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
    # Where the run's secret inputs are sealed; the activity puts them in for placeholders.
    secret_input_id: str | None = None


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
    """How a run ended and the events that announce it (ids stamped by the workflow);
    ``release_slot``: the run was counted against its user's running cap."""

    events: list[EventInput] = Field(default_factory=list)
    release_slot: bool = False


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def ref_marker(ref: str, size: int) -> dict[str, Any]:
    """How a by-reference output shows in results (fetch it from the step-output route)."""
    return {REF_KEY: ref, "size": size}


class RunEvent(BaseModel):
    """An event sent to a running execution (``POST /api/v1/executions/{id}/events``)."""

    name: str = Field(min_length=1, max_length=100, pattern=EVENT_NAME)
    payload: Any = None
    id: str | None = Field(default=None, max_length=100)
    received_at: datetime | None = None


class PrepareLinkedInInput(BaseModel):
    user_id: str


class PrepareLinkedInOutput(BaseModel):
    """The user's connected account, its provider, and the queue its actions run on (its
    governor is made sure to run)."""

    account_id: str
    provider: str
    task_queue: str


class WorkflowRunInput(BaseModel):
    """Ids and the plan; literal secrets were sealed when the definition was saved."""

    user_id: str
    workflow_id: str
    version: int
    plan: Plan
    input: dict[str, Any] = Field(default_factory=dict)
    prior: list[StepState] = Field(default_factory=list)  # reused (retry fromStep) or carried
    retry_of: str | None = None
    from_step: str | None = None
    schedule_id: str | None = None
    started_at: datetime | None = None
    continued: int = 0
    events: list[RunEvent] = Field(default_factory=list)  # received, not yet taken (carried)
    history_limit: int = 8000
    heartbeat_timeout_seconds: float = 10.0
    default_timeout_seconds: float = 60.0
    # Input fields sealed at start (``input`` shows them as ``********``): templates read a
    # placeholder for each, which the step activity replaces with the sealed value.
    secret_input_keys: list[str] = Field(default_factory=list)
    secret_input_id: str | None = None
    # Under a running-executions cap: ``counted`` runs release their slot when they end;
    # a ``queued`` one first waits for ``slot_granted`` (as a ``pending`` job).
    counted: bool = False
    queued: bool = False


SECRET_MARK = "\x1f"


def secret_placeholder(name: str) -> str:
    """What a template reads for the secret input ``name`` in workflow code."""
    return f"{SECRET_MARK}secret:{name}{SECRET_MARK}"


def start_job_memo(data: WorkflowRunInput) -> tuple[str, dict[str, Any]]:
    """The job message and metadata a run is started with (by the API or a schedule).

    From the ``workflow-run-lean-begin`` patch on, a run begins with exactly these, so its
    first mirror has no memo to write.
    """
    metadata: dict[str, Any] = {"workflowId": data.workflow_id, "version": data.version}
    if data.schedule_id:
        metadata["scheduleId"] = data.schedule_id
    metadata.update(totalSteps=len(data.plan.steps), finishedSteps=0)
    return f"Workflow {data.workflow_id} v{data.version}", metadata
