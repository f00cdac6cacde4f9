"""LinkedIn automation: an account's pacing settings, the action job, and the messages
between action jobs and their account's governor.

Action workflows cannot send Updates to other workflows, so the two talk with
signals: an action asks for a slot (``enqueue``), the governor answers on the
action's ``governor_slot`` signal (an ``eta`` while it waits, then ``grant``, or
``reject``), and the action reports how it went (``release``) or that it was
cancelled while waiting (``withdraw``). The API changes settings with the
``configure`` Update (validated, answered once applied) and reads the
governor with the ``governor_view`` query.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

ACTION_WORKFLOW = "LinkedInActionWorkflow"
GOVERNOR_WORKFLOW = "LinkedInGovernorWorkflow"
CONNECT_WORKFLOW = "LinkedInConnectWorkflow"
PERFORM_ACTION = "perform_linkedin_action"
COMPLETE_CONNECTION = "complete_linkedin_connection"
PAUSE_ACCOUNT_CAMPAIGNS = "pause_account_campaigns"

SIGNAL_ENQUEUE = "enqueue"
SIGNAL_RELEASE = "release"
SIGNAL_WITHDRAW = "withdraw"
SIGNAL_DISCONNECT = "disconnect"
SIGNAL_SLOT = "governor_slot"
SIGNAL_ACCOUNT_STATUS = "account_status"
UPDATE_CONFIGURE = "configure"
QUERY_VIEW = "governor_view"

Outcome = Literal["completed", "failed", "limit", "challenge", "cancelled"]


# ---- an account's pacing settings -----------------------------------------------------

ACTION_TYPES: tuple[str, ...] = (
    "sendConnectionRequest",
    "sendMessage",
    "viewProfile",
    "followProfile",
    "likePost",
    "withdrawConnectionRequest",
)
DEFAULT_DAILY: dict[str, int] = {
    "sendConnectionRequest": 20,
    "sendMessage": 50,
    "viewProfile": 80,
    "followProfile": 30,
    "likePost": 50,
    "withdrawConnectionRequest": 20,
}
DEFAULT_WEEKLY: dict[str, int] = {
    "sendConnectionRequest": 100,
    "sendMessage": 250,
    "viewProfile": 400,
    "followProfile": 150,
    "likePost": 250,
    "withdrawConnectionRequest": 100,
}
MAX_LIMIT = 10_000


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def clock(value: str) -> time:
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time like '09:00'") from exc


class WorkingHours(_Camel):
    start: str = "09:00"
    end: str = "18:00"
    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 1 or d > 7 for d in value):
            raise ValueError("days must list ISO weekdays 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _window(self) -> WorkingHours:
        if clock(self.start) >= clock(self.end):
            raise ValueError("workingHours.start must be before workingHours.end")
        return self


def _limits(value: dict[str, int], defaults: Mapping[str, int]) -> dict[str, int]:
    unknown = [k for k in value if k not in ACTION_TYPES]
    if unknown:
        raise ValueError(f"unknown action types: {', '.join(unknown)}")
    if any(n < 0 or n > MAX_LIMIT for n in value.values()):
        raise ValueError(f"limits must be between 0 and {MAX_LIMIT}")
    return {**defaults, **value}


class LinkedInSettings(_Camel):
    """How the governor paces one account (``GET/PUT /api/v2/linkedin/settings``)."""

    daily_limits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_DAILY))
    weekly_limits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_WEEKLY))
    min_delay_seconds: float = Field(default=45.0, ge=0, le=86_400)
    max_delay_seconds: float = Field(default=150.0, ge=0, le=86_400)
    working_hours: WorkingHours | None = Field(default_factory=WorkingHours)

    @field_validator("daily_limits")
    @classmethod
    def _daily(cls, value: dict[str, int]) -> dict[str, int]:
        return _limits(value, DEFAULT_DAILY)

    @field_validator("weekly_limits")
    @classmethod
    def _weekly(cls, value: dict[str, int]) -> dict[str, int]:
        return _limits(value, DEFAULT_WEEKLY)

    @model_validator(mode="after")
    def _delays(self) -> LinkedInSettings:
        if self.min_delay_seconds > self.max_delay_seconds:
            raise ValueError("minDelaySeconds must not exceed maxDelaySeconds")
        return self

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ---- the action job ------------------------------------------------------------------


class ActionFields(BaseModel):
    """What one LinkedIn action is: the workflow's input and each attempt's share them."""

    user_id: str
    account_id: str
    action_type: str
    profile_url: str
    message: str | None = None
    note: str | None = None
    post_url: str | None = None


class PerformInput(ActionFields):
    attempt: int = 1
    # Campaign enrollments: a member who is already a connection is an answer (the
    # invitation step is done), not a failure. Action jobs keep failing on it.
    already_connected_ok: bool = False


class PerformOutput(BaseModel):
    """``limit`` and ``challenge`` are answers, not errors: the governor pauses the account."""

    outcome: Literal["completed", "limit", "challenge"]
    summary: str = ""
    remote_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    retry_after_seconds: float | None = None
    reason: str | None = None


# Where the automation provider (Unipile) reports the account a member signed in with.
AUTOMATION_NOTIFY_PATH = "/api/v2/users/integrations/linkedin/automation/notify"


class ConnectInput(BaseModel):
    user_id: str
    # The OAuth state's hash; with ``automation``, the hash of the hosted sign-in link's
    # state whose provider account was just linked (its profile is read then).
    state_hash: str
    automation: bool = False


class ConnectOutput(BaseModel):
    account_id: str
    provider: str
    member_id: str | None = None
    name: str | None = None
    profile_url: str | None = None
    connection_count: int | None = None
    # A hosted sign-in link waits for the member (kept encrypted, by the sign-in's state).
    automation_link: bool = False


class LinkedInActionInput(ActionFields):
    not_before: datetime | None = None
    provider: str = "sandbox"
    metadata: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = 3
    activity_timeout_seconds: float = 120.0
    heartbeat_timeout_seconds: float = 10.0


class LinkedInActionOutput(BaseModel):
    actionType: str
    profileUrl: str
    provider: str
    summary: str
    remoteId: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1


# ---- action jobs and their governor ----------------------------------------------------


def connect_workflow_id(state_hash: str) -> str:
    """The workflow finishing one sign-in; its id is derived from the OAuth state."""
    return f"linkedin-connect-{state_hash[:32]}"


def governor_id(account_id: str) -> str:
    """One governor per LinkedIn account; its workflow id is derived from the account."""
    return f"linkedin-governor-{account_id}"


class SlotRequest(BaseModel):
    job_id: str
    action_type: str
    not_before: datetime | None = None
    # A workflow that asks for several slots one after another (a campaign enrollment)
    # names each request; the governor echoes it, so a late answer to an earlier request
    # is never taken for an answer to the current one.
    ticket: str | None = None


class Release(BaseModel):
    job_id: str
    outcome: Outcome
    retry_after_seconds: float | None = None
    reason: str | None = None
    requeue: bool = False  # put the action back in its place (after a limit or challenge)


class Withdraw(BaseModel):
    job_id: str


class SlotMessage(BaseModel):
    kind: Literal["eta", "grant", "reject"]
    job_id: str
    at: datetime | None = None
    delay_ms: int | None = None
    message: str = ""
    ticket: str | None = None


class Queued(BaseModel):
    job_id: str
    action_type: str
    seq: int
    enqueued_at: datetime
    not_before: datetime | None = None
    announced: datetime | None = None
    announced_blocked: bool = False
    ticket: str | None = None


class Lease(BaseModel):
    job_id: str
    action_type: str
    seq: int
    granted_at: datetime
    expires_at: datetime
    delay_ms: int
    ticket: str | None = None


class AccountStatusChange(BaseModel):
    """What the provider said about an account (webhook, polling or the sandbox)."""

    status: Literal["restricted", "disconnected", "running"]
    event_id: str
    user_id: str
    reason: str | None = None
    at: datetime | None = None


class GovernorState(BaseModel):
    """Everything the governor knows; carried whole across continue-as-new."""

    settings: LinkedInSettings = Field(default_factory=LinkedInSettings)
    queue: list[Queued] = Field(default_factory=list)
    grants: dict[str, list[datetime]] = Field(default_factory=dict)
    lease: Lease | None = None
    last_finished_at: datetime | None = None
    next_gap_ms: int = 0
    paused_until: datetime | None = None
    pause_reason: str | None = None
    limit_strikes: int = 0
    challenge_strikes: int = 0
    seq: int = 0
    outbox: list[SlotMessage] = Field(default_factory=list)
    totals: dict[str, int] = Field(default_factory=dict)
    runs: int = 1
    # The provider said the account is restricted or disconnected: nothing is granted
    # until it reports the account running again.
    restricted: bool = False
    restriction_reason: str | None = None
    notices: list[AccountStatusChange] = Field(default_factory=list)  # not yet announced


class PauseCampaignsInput(BaseModel):
    user_id: str
    account_id: str
    reason: str


class PauseCampaignsOutput(BaseModel):
    campaigns: list[str] = Field(default_factory=list)


class GovernorInput(BaseModel):
    account_id: str
    settings: LinkedInSettings = Field(default_factory=LinkedInSettings)
    state: GovernorState | None = None
    history_limit: int = 2000  # continue-as-new once the run's history reaches this
    lease_seconds: float = 1800.0  # a granted action that never reports back frees its slot
    max_concurrent_signals: int = 100


class UsageView(BaseModel):
    last24h: int
    last7d: int
    dailyLimit: int
    weeklyLimit: int


class GovernorView(BaseModel):
    accountId: str
    queued: int
    queuedByType: dict[str, int]
    running: str | None
    pausedUntil: datetime | None
    pauseReason: str | None
    nextSlotAt: datetime | None
    usage: dict[str, UsageView]
    totals: dict[str, int]
    runs: int
    historyLength: int
    restricted: bool = False
    restrictionReason: str | None = None
