"""The webhook delivery job: its workflow's input and output, and its activities' messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

DELIVERY_WORKFLOW = "WebhookDeliveryWorkflow"
ATTEMPT_DELIVERY = "attempt_webhook_delivery"
MARK_DELIVERY = "mark_webhook_delivery"
# The longest timeout an endpoint may set for one attempt, in seconds.
MAX_ENDPOINT_TIMEOUT = 30.0

Outcome = Literal["delivered", "retry", "failed", "throttled"]


class WebhookDeliveryInput(BaseModel):
    user_id: str
    endpoint_id: str
    event_id: str
    event: str
    round: int = 0
    heartbeat_timeout_seconds: float = 10.0
    attempt_timeout_seconds: float = 60.0


class WebhookDeliveryOutput(BaseModel):
    delivered: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


class AttemptInput(BaseModel):
    delivery_id: str
    user_id: str
    endpoint_id: str
    event_id: str
    round: int = 0
    attempt: int = 1
    workflow_time: datetime  # endpoint health runs on workflow time (testable with time skipping)
    jitter: float = 0.0  # 0..1 from workflow.random(), so the schedule is replayable
    slot_reserved: bool = False


class AttemptOutput(BaseModel):
    outcome: Outcome
    final: bool = False
    attempted: bool = False  # a request was made (and recorded)
    exhausted: bool = False  # failed on every attempt the endpoint allows
    status_code: int | None = None
    error: str | None = None
    delay_seconds: float = 0.0
    max_attempts: int = 1
    endpoint_disabled: bool = False  # this attempt switched the endpoint off
    disabled_reason: str | None = None


class MarkDeliveryInput(BaseModel):
    delivery_id: str
    status: str
    error: str | None = None


class DeliveryPolicy(BaseModel):
    """The operator's knobs (settings) that shape every endpoint's schedule and health."""

    timeout_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0
    error_after_failures: int = 3
    disable_after_seconds: float = 3 * 24 * 3600.0
    allow_private_urls: bool = False
