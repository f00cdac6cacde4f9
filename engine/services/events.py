"""Publishing events that happen in the API with no job (``lead.created``, ``webhook.test``).

The API never sends a webhook itself: it stores the events with their delivery rows and
starts the deliveries (or one fan-out workflow) on the webhooks queue. See docs/webhooks.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.events import DeliveryStarter, store_and_plan
from engine.models import queues, summaries
from engine.models.events import FANOUT_WORKFLOW, EventInput, PublishEventsInput, event_id_for
from settings import Settings
from store.db import Database


class EventPublisher:
    """Publishes events from the client side; one per process, built from settings."""

    def __init__(self, client: Client, starter: DeliveryStarter, db: Database | None) -> None:
        self.client = client
        self.starter = starter
        self.db = db

    @classmethod
    def from_settings(cls, client: Client, settings: Settings, db: Database) -> EventPublisher:
        return cls(client, DeliveryStarter.from_settings(settings, db), db)

    async def publish(self, user_id: str, events: list[EventInput], *, fanout_id: str) -> bool:
        """Publish ``events`` without sending anything from this process.

        With a database: the events and their delivery rows are stored here first; nothing
        is started when no endpoint subscribes, a single delivery is started directly (one
        atomic start, no fan-out hop), and several go through the fan-out workflow so they
        start together or not at all. Without one: the fan-out workflow (id ``fanout_id``)
        stores and fans out. A repeat of the same ids is a no-op. Returns whether anything
        started.
        """
        now = datetime.now(UTC)
        stamped = [
            e.model_copy(
                update={
                    "id": e.id or event_id_for(fanout_id, e.name),
                    "occurred_at": e.occurred_at or now,
                }
            )
            for e in events
        ]
        data = PublishEventsInput(user_id=user_id, events=stamped)
        if self.db is not None:
            starts = await store_and_plan(self.db, data)
            if not starts:
                return False
            if len(starts) == 1:
                return await self.starter.start_new(self.client, starts[0])
        priority = await self.starter.priority(user_id, stamped[0].name if stamped else "")
        try:
            await self.client.start_workflow(
                FANOUT_WORKFLOW,
                data,
                id=fanout_id,
                task_queue=queues.task_queue(self.starter.task_queue_prefix, queues.WEBHOOKS),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=summaries.event_fanout([e.name for e in stamped]),
                priority=priority,  # (its deliveries are started with their own)
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def publish_one(
        self,
        user_id: str,
        event: str,
        data: dict[str, Any],
        event_id: str,
        *,
        occurred_at: datetime | None = None,
        endpoint_ids: list[str] | None = None,
    ) -> bool:
        """One event; the fan-out workflow's id is ``event_id``."""
        return await self.publish(
            user_id,
            [
                EventInput(
                    name=event,
                    data=data,
                    id=event_id,
                    occurred_at=occurred_at,
                    endpoint_ids=endpoint_ids,
                )
            ],
            fanout_id=event_id,
        )
