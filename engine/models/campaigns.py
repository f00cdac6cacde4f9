"""LinkedIn campaigns (sequences): the steps a user defines, what one enrollment runs, the
messages an enrollment receives, and provider events on their way in.

A campaign is a list of steps walked once per lead by one ``campaign_enrollment`` job (a
``CampaignEnrollmentWorkflow``). Action steps ask the sending account's governor for a slot,
exactly as ``linkedin_action`` jobs do; waits are durable timers; conditions are expressions
of the one template engine over what the enrollment knows (``accepted``, ``replied``, …).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.models.linkedin import WorkingHours

CAMPAIGN_ENROLLMENT_WORKFLOW = "CampaignEnrollmentWorkflow"
POLLER_WORKFLOW = "LinkedInPollerWorkflow"
JOB_TYPE = "campaign_enrollment"
RECORD_ENROLLMENT = "record_campaign_enrollment"
POLL_LINKEDIN_EVENTS = "poll_linkedin_events"
SIGNAL_PROVIDER_EVENT = "provider_event"
SIGNAL_CONTROL = "campaign_control"
SIGNAL_POKE = "poke"
QUERY_ENROLLMENT = "enrollment_view"

ACTION_STEPS: tuple[str, ...] = (
    "viewProfile",
    "followProfile",
    "sendConnectionRequest",
    "sendMessage",
    "likePost",
    "withdrawConnectionRequest",
)
CONTROL_STEPS: tuple[str, ...] = ("waitForAcceptance", "wait", "stopIf", "branch")
StepType = Literal[
    "viewProfile",
    "followProfile",
    "sendConnectionRequest",
    "sendMessage",
    "likePost",
    "withdrawConnectionRequest",
    "waitForAcceptance",
    "wait",
    "stopIf",
    "branch",
]
# What a stopIf / branch condition can read (plus the target's fields under ``lead.``).
CONDITION_NAMES: tuple[str, ...] = (
    "accepted",
    "replied",
    "connected",
    "alreadyConnected",
    "invited",
    "messaged",
    "lead",
)
MAX_STEPS = 20
MAX_WAIT_DAYS = 90
MESSAGE_TEMPLATE_LIMIT = 8000  # the bulk route's limits (engine.services.campaigns)
NOTE_TEMPLATE_LIMIT = 2000
STEP_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"

# The sandbox's fixed answers to a campaign are documented in docs/linkedin.md (Sandbox).
EnrollmentStatus = Literal[
    "pending", "active", "completed", "replied", "stopped", "failed", "cancelled", "removed"
]
FINISHED_ENROLLMENT: tuple[str, ...] = (
    "completed",
    "replied",
    "stopped",
    "failed",
    "cancelled",
    "removed",
)


# ---- what users define --------------------------------------------------------------------


class CampaignStep(BaseModel):
    """One step as the API takes it. Durations are ``days`` + ``hours`` + ``minutes``."""

    model_config = ConfigDict(extra="forbid")

    type: StepType
    name: str | None = Field(default=None, pattern=STEP_NAME_PATTERN)
    note: str | None = Field(default=None, max_length=NOTE_TEMPLATE_LIMIT)
    message: str | None = Field(default=None, max_length=MESSAGE_TEMPLATE_LIMIT)
    postUrl: str | None = Field(default=None, max_length=1000)
    days: float | None = Field(default=None, ge=0, le=MAX_WAIT_DAYS)
    hours: float | None = Field(default=None, ge=0, le=MAX_WAIT_DAYS * 24)
    minutes: float | None = Field(default=None, ge=0, le=MAX_WAIT_DAYS * 24 * 60)
    onTimeout: str | None = Field(default=None, max_length=64)
    condition: str | None = Field(default=None, min_length=1, max_length=2000)
    goto: str | None = Field(default=None, max_length=64)

    def seconds(self) -> float | None:
        if self.days is None and self.hours is None and self.minutes is None:
            return None
        return ((self.days or 0) * 24 + (self.hours or 0)) * 3600 + (self.minutes or 0) * 60

    @model_validator(mode="after")
    def _fits_type(self) -> CampaignStep:
        t = self.type
        allowed = {
            "sendConnectionRequest": {"note"},
            "sendMessage": {"message"},
            "likePost": {"postUrl"},
            "waitForAcceptance": {"days", "hours", "minutes", "onTimeout"},
            "wait": {"days", "hours", "minutes"},
            "stopIf": {"condition"},
            "branch": {"condition", "goto"},
        }.get(t, set())
        given = {k for k in self.model_fields_set if k not in ("type", "name")}
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(f"{t} does not take {', '.join(extra)}")
        if t == "sendMessage" and not (self.message or "").strip():
            raise ValueError("sendMessage needs a message")
        if t == "likePost" and not (self.postUrl or "").strip():
            raise ValueError("likePost needs a postUrl")
        if t in ("waitForAcceptance", "wait"):
            seconds = self.seconds()
            if not seconds or seconds <= 0:
                raise ValueError(f"{t} needs a duration (days, hours or minutes)")
            if seconds > MAX_WAIT_DAYS * 86400:
                raise ValueError(f"{t} waits at most {MAX_WAIT_DAYS} days")
        if t in ("stopIf", "branch") and not self.condition:
            raise ValueError(f"{t} needs a condition")
        if t == "branch" and not self.goto:
            raise ValueError("branch needs goto (the name of a later step)")
        return self


class CampaignSettings(BaseModel):
    """``workingHours`` null: the sending account's; ``newLeadsPerDay`` null: no staggering
    (the governor's caps and delays pace every account anyway)."""

    model_config = ConfigDict(extra="forbid")

    workingHours: WorkingHours | None = None
    newLeadsPerDay: int | None = Field(default=None, ge=1, le=1000)


# ---- what one enrollment runs ---------------------------------------------------------------


class SequenceStep(BaseModel):
    """A step as an enrollment runs it (compiled by the campaign service)."""

    type: str
    name: str | None = None
    seconds: float | None = None
    condition: str | None = None
    goto: int | None = None  # branch target, or waitForAcceptance's onTimeout step
    on_timeout: Literal["stop", "continue", "goto"] = "stop"


class StepTexts(BaseModel):
    """A step's texts rendered for one target."""

    message: str | None = None
    note: str | None = None
    post_url: str | None = None


class EnrollmentState(BaseModel):
    """Everything an enrollment knows; carried whole across continue-as-new."""

    step: int = 0
    accepted_at: datetime | None = None
    replied_at: datetime | None = None
    already_connected: bool = False
    invited_at: datetime | None = None
    messages: int = 0
    actions: int = 0
    paused: bool = False
    pause_reason: str | None = None
    wait_started_at: datetime | None = None
    wait_until: datetime | None = None
    requests: int = 0  # governor requests made: each names its ticket
    seen: list[str] = Field(default_factory=list)  # the last provider event ids (bounded)
    runs: int = 1


class EnrollmentInput(BaseModel):
    """Ids, the compiled steps and the target's rendered texts; never secrets."""

    user_id: str
    campaign_id: str
    campaign_name: str = ""
    account_id: str
    provider: str = "sandbox"
    profile_url: str
    lead_id: str | None = None
    lead: dict[str, Any] = Field(default_factory=dict)  # fields conditions read as lead.*
    steps: list[SequenceStep]
    texts: list[StepTexts]
    hours: WorkingHours | None = None  # the campaign's own window (None: the account's only)
    timezone: str = "UTC"  # how times are shown in the job's messages (the window's zone)
    not_before: datetime | None = None  # staggering: the first action not before this
    paused: bool = False
    pause_reason: str | None = None
    poller_id: str | None = None  # providers without webhooks: poked after an invitation
    state: EnrollmentState | None = None
    history_limit: int = 1000
    activity_timeout_seconds: float = 120.0
    heartbeat_timeout_seconds: float = 10.0


class EnrollmentOutput(BaseModel):
    outcome: str
    steps: int
    accepted: bool
    replied: bool
    actions: int


class EnrollmentView(BaseModel):
    """The ``enrollment_view`` query: where it is and what it waits for."""

    step: int
    totalSteps: int
    status: str
    message: str
    paused: bool
    accepted: bool
    replied: bool
    waitUntil: datetime | None = None
    nextWakeAt: datetime | None = None  # its next timer (a wait's end, or a daily tick)
    waitingForSlot: bool = False
    runs: int = 1
    historyLength: int = 0


class ProviderSignal(BaseModel):
    """A provider event for one enrollment (accepted, replied). Repeats are ignored."""

    event_id: str
    kind: Literal["accepted", "replied"]
    at: datetime | None = None


class ControlSignal(BaseModel):
    action: Literal["pause", "resume"]
    reason: str | None = None


class RecordEnrollmentInput(BaseModel):
    """One step's outcome (or the enrollment's end) for the database and the stats."""

    user_id: str
    campaign_id: str
    enrollment_id: str
    lead_id: str | None = None
    at: datetime
    step: int | None = None
    step_type: str | None = None
    outcome: str | None = None  # done | skipped | failed | timeout | accepted | true | false
    next_step: int | None = None
    status: str | None = None  # set on the row when given (the end, or active)
    acted: bool = False  # an action step ran (counts towards the enrollment's actions)
    invited: bool = False
    messaged: bool = False
    provider_user_id: str | None = None
    error: str | None = None


class RecordEnrollmentOutput(BaseModel):
    campaign_completed: bool = False
    # The campaign as the database has it: a pause or resume whose signal has not arrived
    # (or never will: the enrollment was not visible yet to the batch) still takes effect.
    campaign_status: str | None = None
    pause_reason: str | None = None


# ---- provider events ------------------------------------------------------------------------

ProviderEventKind = Literal["accepted", "replied", "account_status"]


class ProviderEvent(BaseModel):
    """A provider's event, normalized: what it is, whose account, about which member."""

    id: str = Field(min_length=1, max_length=200)
    provider: str
    kind: ProviderEventKind
    account_ref: str  # the provider's account id (Unipile acc_…), or ours for the sandbox
    profile_slug: str | None = None
    provider_user_id: str | None = None
    text: str | None = None
    status: Literal["restricted", "disconnected", "running"] | None = None
    reason: str | None = None
    at: datetime | None = None


class IngestResult(BaseModel):
    duplicate: bool = False
    matched: int = 0
    account_id: str | None = None


class PollerInput(BaseModel):
    account_id: str
    max_interval_seconds: float = 3600.0
    iterations: int = 100  # polls per run, then continue-as-new


class PollInput(BaseModel):
    account_id: str
    now: datetime


class PollOutput(BaseModel):
    events: int = 0
    next_due: datetime | None = None


def duration(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def poller_id(account_id: str) -> str:
    return f"linkedin-poller-{account_id}"
