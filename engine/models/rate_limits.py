"""Provider request budgets that hold across every worker process.

A vendor's limit belongs to a vendor account (a Hunter or PDL API key, a Slack
workspace or channel, a Gmail mailbox), not to a worker, so each budget in use
has one ``RateGovernorWorkflow`` (engine.workflows.rate_governor), keyed by the
budget's name and a hash of the account. Activities ask it for a reservation
of N requests (one update per block of requests, not per request) and pace
themselves to it; the governor serializes the reservations of every process.

The rule is GCRA (a token bucket of ``burst`` requests refilled at ``rate`` per
``per_seconds``), computed deterministically from workflow time in ``reserve``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from settings import Settings

RATE_GOVERNOR_WORKFLOW = "RateGovernorWorkflow"
UPDATE_RESERVE = "reserve"
QUERY_BUDGET = "budget"


class Budget(BaseModel):
    """``rate`` requests per ``per_seconds``, up to ``burst`` back to back."""

    name: str
    rate: float = Field(gt=0)
    per_seconds: float = Field(gt=0)
    burst: int = Field(default=1, ge=1)

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.per_seconds / self.rate)


class ReserveInput(BaseModel):
    budget: Budget
    count: int = Field(default=1, ge=1)
    # Refuse (and reserve nothing) when the first request would have to wait longer.
    max_wait_seconds: float = 60.0


class Reservation(BaseModel):
    """``granted``: the requests may go from ``start_at``, one per ``interval_seconds``.
    Refused: the budget allows the first of them at ``start_at``."""

    granted: bool
    start_at: datetime
    interval_seconds: float


class GovernorState(BaseModel):
    budget: Budget
    tat: datetime | None = None  # GCRA's theoretical arrival time
    granted: int = 0  # requests reserved over the governor's life (all its runs)
    refused: int = 0
    runs: int = 1


class GovernorInput(BaseModel):
    budget: Budget
    state: GovernorState | None = None
    history_limit: int = 2000


def reserve(
    state: GovernorState, now: datetime, count: int, max_wait_seconds: float
) -> Reservation:
    """Reserve ``count`` requests (GCRA), or refuse without changing the state."""
    interval = state.budget.interval
    tolerance = interval * (state.budget.burst - 1)
    tat = max(state.tat or now, now)
    start = max(now, tat - tolerance)
    if (start - now).total_seconds() > max_wait_seconds:
        state.refused += count
        return Reservation(granted=False, start_at=start, interval_seconds=interval.total_seconds())
    state.tat = tat + interval * count
    state.granted += count
    return Reservation(granted=True, start_at=start, interval_seconds=interval.total_seconds())


def recovered(state: GovernorState, now: datetime) -> bool:
    """The bucket is full again: forgetting this governor loses nothing."""
    return state.tat is None or state.tat <= now


def governor_id(prefix: str, budget: str, account: str) -> str:
    """One governor per deployment (its task-queue prefix), budget and vendor account; the
    account (a key, a token) only as a hash, so no secret reaches Temporal. Without the
    prefix, two deployments sharing a namespace would meet on one governor that only the
    other's workers serve."""
    digest = hashlib.sha256(f"{budget}\0{account}".encode()).hexdigest()[:32]
    return f"{prefix}-rate-{budget}-{digest}"


def provider_budgets(settings: Settings) -> dict[str, Budget]:
    """The operator's provider budgets (settings), by name."""
    daily = max(2, settings.gmail_daily_send_limit)
    return {
        # Hunter: 10 requests/s per key on the verifier (15/s elsewhere): no burst.
        "hunter": Budget(name="hunter", rate=settings.hunter_requests_per_second, per_seconds=1),
        # PDL: per key and minute.
        "pdl": Budget(name="pdl", rate=settings.pdl_requests_per_minute, per_seconds=60, burst=10),
        # Slack chat.postMessage: about one message a second per channel, short bursts.
        "slack-message": Budget(
            name="slack-message", rate=settings.slack_messages_per_second, per_seconds=1, burst=3
        ),
        # Slack Tier 3 methods (chat.update, reactions.add): per workspace and minute.
        "slack-tier3": Budget(
            name="slack-tier3", rate=settings.slack_tier3_per_minute, per_seconds=60, burst=10
        ),
        # Gmail's daily send cap per mailbox: half of it at once, the rest spread over the
        # day, so no 24 hours ever see more than the cap.
        "gmail-send": Budget(
            name="gmail-send", rate=daily / 2, per_seconds=86400, burst=daily // 2
        ),
    }


# Tools whose every call spends one request of a budget: tool → (budget, the input field
# that narrows the account, e.g. Slack's per-channel message limit).
TOOL_BUDGETS: dict[str, tuple[str, str | None]] = {
    "SLACK_SEND_MESSAGE": ("slack-message", "channel"),
    "SLACK_UPDATE_MESSAGE": ("slack-tier3", None),
    "SLACK_ADD_REACTION": ("slack-tier3", None),
    "GMAIL_SEND_EMAIL": ("gmail-send", None),
}
