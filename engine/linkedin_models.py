"""Messages between LinkedIn action jobs and their account's governor, and its carried state.

Action workflows cannot send Updates to other workflows, so the two talk with
signals: an action asks for a slot (``enqueue``), the governor answers on the
action's ``governor_slot`` signal (an ``eta`` while it waits, then ``grant``, or
``reject``), and the action reports how it went (``release``) or that it was
cancelled while waiting (``withdraw``). The API changes settings with the
``configure`` Update (validated, answered once applied) and reads the
governor with the ``governor_view`` query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from engine.linkedin_schedule import LinkedInSettings

SIGNAL_ENQUEUE = "enqueue"
SIGNAL_RELEASE = "release"
SIGNAL_WITHDRAW = "withdraw"
SIGNAL_DISCONNECT = "disconnect"
SIGNAL_SLOT = "governor_slot"
UPDATE_CONFIGURE = "configure"
QUERY_VIEW = "governor_view"

Outcome = Literal["completed", "failed", "limit", "challenge", "cancelled"]


def governor_id(account_id: str) -> str:
    """One governor per LinkedIn account; its workflow id is derived from the account."""
    return f"linkedin-governor-{account_id}"


class SlotRequest(BaseModel):
    job_id: str
    action_type: str
    not_before: datetime | None = None


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


class Queued(BaseModel):
    job_id: str
    action_type: str
    seq: int
    enqueued_at: datetime
    not_before: datetime | None = None
    announced: datetime | None = None
    announced_blocked: bool = False


class Lease(BaseModel):
    job_id: str
    action_type: str
    seq: int
    granted_at: datetime
    expires_at: datetime
    delay_ms: int


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
