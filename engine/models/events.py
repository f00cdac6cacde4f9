"""Events and the deliveries they fan out to: what jobs and the API publish, and ids derived
so that publishing twice is harmless."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.common import RetryPolicy

# The local activity every job workflow publishes its events through.
PUBLISH_EVENTS = "publish_events"
FANOUT_WORKFLOW = "EventFanoutWorkflow"
PUBLISH_TIMEOUT = timedelta(seconds=60)
# Emission retries until it succeeds (the database may be briefly away); only a bug stops it.
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,
    non_retryable_error_types=["ValueError", "ValidationError", "TypeError"],
)

# Every event a webhook endpoint can subscribe to (``GET /api/v1/webhooks/events``).
EVENT_CATALOG: dict[str, str] = {
    "workflow.completed": "A workflow run finished successfully.",
    "workflow.failed": "A workflow run failed.",
    "workflow.cancelled": "A workflow run was cancelled.",
    "tool.completed": "A tool execution finished successfully.",
    "tool.failed": "A tool execution failed.",
    "linkedin.action.completed": "A LinkedIn action was performed.",
    "linkedin.action.failed": "A LinkedIn action failed.",
    "linkedin.invitation.accepted": "A LinkedIn member accepted an invitation of a connected "
    "account (reported by the provider's webhook, or by polling).",
    "linkedin.message.received": "A LinkedIn member sent a message to a connected account.",
    "linkedin.account.restricted": "A connected LinkedIn account was restricted or "
    "disconnected by the provider; its campaigns were paused.",
    "campaign.enrollment.completed": "A lead's LinkedIn campaign enrollment ended (sequence "
    "done, replied, or stopped by a condition).",
    "campaign.completed": "Every enrollment of a LinkedIn campaign has ended.",
    "enrichment.completed": "An enrichment batch finished.",
    "enrichment.failed": "An enrichment batch failed.",
    "lead.created": "A lead was created.",
    "lead.updated": "A lead was updated.",
    "webhook.test": "A test delivery requested with POST /api/v1/webhooks/{id}/test.",
    "webhook.endpoint.disabled": "One of your webhook endpoints was disabled (410 Gone, or "
    "failing continuously).",
    "webhook.delivery.exhausted": "A webhook delivery failed on every attempt.",
    "connection.expired": "An app end user's connected account can no longer be refreshed; "
    "they must connect again.",
}


class EventInput(BaseModel):
    """One event. ``id`` and ``occurred_at`` are filled in by ``emit_events`` when omitted."""

    name: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, max_length=80)
    occurred_at: datetime | None = None
    # Only these endpoints, whatever they subscribe to (``webhook.test``).
    endpoint_ids: list[str] | None = None
    # Never these (``webhook.delivery.exhausted`` skips the endpoint that failed).
    exclude_endpoint_ids: list[str] = Field(default_factory=list)


class PublishEventsInput(BaseModel):
    user_id: str
    events: list[EventInput]


class PublishEventsOutput(BaseModel):
    delivery_ids: list[str] = Field(default_factory=list)


class DeliveryStart(BaseModel):
    """What a ``webhook_delivery`` workflow is started with: ids only."""

    delivery_id: str
    user_id: str
    endpoint_id: str
    event_id: str
    event: str
    round: int = 0
    host: str = ""  # the endpoint's host name, for the job's summary


def derive_id(prefix: str, *parts: str) -> str:
    """A stable id from its parts (job id and event name; event id and endpoint id)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}{digest}"


def event_id_for(source_id: str, name: str) -> str:
    return derive_id("evt_", source_id, name)


def delivery_id_for(event_id: str, endpoint_id: str) -> str:
    return derive_id("whd_", event_id, endpoint_id)
