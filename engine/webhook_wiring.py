"""What worker.py registers for webhooks and events.

``publish_events`` is registered on every queue, because any job workflow
emits its events through it as a local activity on its own worker; the
webhooks queue runs the delivery and fan-out workflows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.deps import ActivityDeps
from activities.events import EventActivities
from activities.webhook_delivery import DeliveryPolicy, WebhookDeliveryActivities
from engine.events import EventFanoutWorkflow
from engine.webhook_delivery import WebhookDeliveryWorkflow
from engine.webhook_log import MAX_ENDPOINT_TIMEOUT, DeliveryStarter


def delivery_starter(deps: ActivityDeps) -> DeliveryStarter:
    s = deps.settings
    return DeliveryStarter(
        task_queue_prefix=s.task_queue_prefix,
        heartbeat_timeout_seconds=s.activity_heartbeat_timeout_seconds,
        attempt_timeout_seconds=max(s.webhook_timeout_seconds, MAX_ENDPOINT_TIMEOUT) + 30.0,
    )


def event_publisher(deps: ActivityDeps) -> EventActivities:
    return EventActivities(deps.db, delivery_starter(deps))


def event_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    return [event_publisher(deps).publish_events]


def webhook_workflows() -> list[type]:
    return [WebhookDeliveryWorkflow, EventFanoutWorkflow]


def webhook_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    s = deps.settings
    delivery = WebhookDeliveryActivities(
        deps.db,
        deps.vault,
        DeliveryPolicy(
            timeout_seconds=s.webhook_timeout_seconds,
            max_backoff_seconds=s.webhook_max_backoff_seconds,
            error_after_failures=s.webhook_error_after_failures,
            disable_after_seconds=s.webhook_disable_after_seconds,
            allow_private_urls=s.allow_private_urls,
        ),
    )
    return [delivery.attempt_webhook_delivery, delivery.mark_webhook_delivery]
