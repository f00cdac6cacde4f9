"""Input and output of ``WebhookDeliveryWorkflow`` (their own module, so workflow sandboxes
import them once instead of on every run)."""

from __future__ import annotations

from pydantic import BaseModel


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
