"""The delivery log and recovery: list deliveries, read one with every attempt,
deliver one again, recover every failed delivery since a time.

``DeliveryStarter`` is the one place ``webhook_delivery`` workflows are started,
both by the publishing activity (a repeat is a no-op) and by retry/recover (a
new run of the same workflow id: receivers see the same delivery id again).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import and_, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.events import DeliveryStart
from engine import queues
from engine.jobs import start_attributes, start_memo
from engine.webhook_delivery import WebhookDeliveryInput, WebhookDeliveryWorkflow
from engine.webhooks import WebhookConflict, WebhookError, WebhookService
from store.db import as_utc, utcnow
from store.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent

RECOVER_LIMIT = 500
MAX_ENDPOINT_TIMEOUT = 30.0


class DeliveryNotFound(WebhookError):
    code = "DELIVERY_NOT_FOUND"


@dataclass(frozen=True)
class DeliveryStarter:
    """Starts delivery workflows (as ``webhook_delivery`` jobs) on the webhooks queue."""

    task_queue_prefix: str
    heartbeat_timeout_seconds: float = 10.0
    attempt_timeout_seconds: float = MAX_ENDPOINT_TIMEOUT + 30.0
    concurrency: int = 32

    async def __call__(self, client: Client, starts: list[DeliveryStart]) -> None:
        """Idempotent: a delivery whose workflow exists (running or closed) is left alone."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(start: DeliveryStart) -> None:
            async with gate:
                await self.start_new(client, start)

        await asyncio.gather(*(one(s) for s in starts))

    async def start_new(self, client: Client, start: DeliveryStart) -> bool:
        """Start one delivery unless its workflow exists already; whether it started."""
        try:
            await self.start(client, start, redeliver=False)
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def start(self, client: Client, s: DeliveryStart, *, redeliver: bool) -> None:
        await client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(
                user_id=s.user_id, endpoint_id=s.endpoint_id, event_id=s.event_id,
                event=s.event, round=s.round,
                heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
                attempt_timeout_seconds=self.attempt_timeout_seconds,
            ),
            id=s.delivery_id,
            task_queue=queues.task_queue(self.task_queue_prefix, queues.WEBHOOKS),
            search_attributes=start_attributes(s.user_id, "webhook_delivery"),
            memo=start_memo(f"Queued {s.event}",
                            {"event": s.event, "endpointId": s.endpoint_id,
                             "eventId": s.event_id}),
            id_conflict_policy=(
                WorkflowIDConflictPolicy.FAIL if redeliver
                else WorkflowIDConflictPolicy.USE_EXISTING
            ),
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE if redeliver
                else WorkflowIDReusePolicy.REJECT_DUPLICATE
            ),
        )


def starter_for(service: WebhookService) -> DeliveryStarter:
    s = service.settings
    return DeliveryStarter(
        task_queue_prefix=s.task_queue_prefix,
        heartbeat_timeout_seconds=s.activity_heartbeat_timeout_seconds,
        attempt_timeout_seconds=max(s.webhook_timeout_seconds, MAX_ENDPOINT_TIMEOUT) + 30.0,
    )


def encode_cursor(row: WebhookDelivery) -> str:
    created = as_utc(row.created_at)
    raw = f"{created.isoformat() if created else ''}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), delivery_id
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc


class DeliveryLog:
    """Reads and redelivers one user's deliveries; endpoints are checked through the service."""

    def __init__(self, service: WebhookService) -> None:
        self.service = service
        self.db = service.db
        self.starter = starter_for(service)

    async def page(
        self, user_id: str, endpoint_id: str, *, status: str | None, event: str | None,
        limit: int, cursor: str | None,
    ) -> tuple[list[WebhookDelivery], str | None]:
        """Newest first; returns the page and the cursor of the next one."""
        await self.service.get(user_id, endpoint_id)
        d = WebhookDelivery
        query = select(d).where(d.endpoint_id == endpoint_id, d.user_id == user_id)
        if status:
            query = query.where(d.status == status)
        if event:
            query = query.where(d.event == event)
        if cursor:
            created, last_id = decode_cursor(cursor)
            query = query.where(
                or_(col(d.created_at) < created,
                    and_(col(d.created_at) == created, col(d.id) < last_id))
            )
        query = query.order_by(col(d.created_at).desc(), col(d.id).desc()).limit(limit + 1)
        async with self.db.session() as session:
            rows = list((await session.exec(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1]) if more and rows else None

    async def get(
        self, user_id: str, endpoint_id: str, delivery_id: str
    ) -> tuple[WebhookDelivery, list[WebhookAttempt], WebhookEvent | None]:
        await self.service.get(user_id, endpoint_id)
        async with self.db.session() as session:
            row = await session.get(WebhookDelivery, delivery_id)
            if row is None or row.endpoint_id != endpoint_id or row.user_id != user_id:
                raise DeliveryNotFound("Delivery not found")
            attempts = (
                await session.exec(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id == delivery_id)
                    .order_by(col(WebhookAttempt.started_at), col(WebhookAttempt.attempt))
                )
            ).all()
            event = await session.get(WebhookEvent, row.event_id)
        return row, list(attempts), event

    async def _running(self, delivery_id: str) -> bool:
        try:
            described = await self.service.jobs.client.get_workflow_handle(delivery_id).describe()
        except RPCError:
            return False
        return described.status == WorkflowExecutionStatus.RUNNING

    async def _redeliver(self, row: WebhookDelivery) -> int:
        """Start the next round of one delivery; its row goes back to ``pending`` first."""
        if row.status in ("pending", "retrying") and await self._running(row.id):
            raise WebhookConflict("Delivery is still in progress", code="DELIVERY_IN_PROGRESS")
        next_round = row.round + 1
        async with self.db.session() as session:
            fresh = await session.get(WebhookDelivery, row.id)
            assert fresh is not None
            fresh.round, fresh.status, fresh.updated_at = next_round, "pending", utcnow()
            fresh.next_attempt_at = fresh.completed_at = None
            session.add(fresh)
            await session.commit()
        start = DeliveryStart(delivery_id=row.id, user_id=row.user_id,
                              endpoint_id=row.endpoint_id, event_id=row.event_id,
                              event=row.event, round=next_round)
        try:
            await self.starter.start(self.service.jobs.client, start, redeliver=True)
        except WorkflowAlreadyStartedError as exc:
            raise WebhookConflict("Delivery is still in progress",
                                  code="DELIVERY_IN_PROGRESS") from exc
        return next_round

    async def _live_endpoint(self, user_id: str, endpoint_id: str) -> None:
        endpoint = await self.service.get(user_id, endpoint_id)
        if endpoint.status == "disabled":
            raise WebhookConflict("Webhook is disabled; enable it first",
                                  code="WEBHOOK_DISABLED")

    async def retry(self, user_id: str, endpoint_id: str, delivery_id: str) -> int:
        """Deliver again (same delivery id, next round); returns the round number."""
        row, _attempts, _event = await self.get(user_id, endpoint_id, delivery_id)
        await self._live_endpoint(user_id, endpoint_id)
        return await self._redeliver(row)

    async def recover(
        self, user_id: str, endpoint_id: str, since: datetime
    ) -> tuple[list[str], bool]:
        """Redeliver every failed delivery created since ``since`` (oldest first, at most
        ``RECOVER_LIMIT`` per call); returns the ids and whether more remain."""
        await self._live_endpoint(user_id, endpoint_id)
        d = WebhookDelivery
        async with self.db.session() as session:
            rows = list((await session.exec(
                select(d)
                .where(d.endpoint_id == endpoint_id, d.user_id == user_id,
                       d.status == "failed", col(d.created_at) >= since)
                .order_by(col(d.created_at), col(d.id))
                .limit(RECOVER_LIMIT + 1)
            )).all())
        more = len(rows) > RECOVER_LIMIT
        started: list[str] = []
        for row in rows[:RECOVER_LIMIT]:
            try:
                await self._redeliver(row)
            except WebhookConflict:
                continue
            started.append(row.id)
        return started, more
