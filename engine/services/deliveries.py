"""The delivery log and recovery: list deliveries, read one with every attempt, deliver one
again, recover every failed delivery since a time.

A redelivery is a new run of the same ``webhook_delivery`` workflow id, started through
``DeliveryStarter`` as the first one was, so receivers see the same delivery id again.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.events import DeliveryStarter
from engine.models import summaries
from engine.models.events import DeliveryStart
from engine.services.pagination import InvalidPageToken, PageTokens
from engine.services.webhooks import WebhookConflict, WebhookService
from store import webhook_repo
from store.db import as_utc
from store.errors import NotFoundError
from store.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent

RECOVER_LIMIT = 500


class DeliveryNotFound(NotFoundError):
    code = "DELIVERY_NOT_FOUND"


def _position(row: WebhookDelivery) -> bytes:
    created = as_utc(row.created_at)
    return f"{created.isoformat() if created else ''}|{row.id}".encode()


def _after(position: bytes) -> tuple[datetime, str]:
    try:
        created, _, delivery_id = position.decode().partition("|")
        return datetime.fromisoformat(created), delivery_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPageToken("cursor") from exc


class DeliveryLog:
    """Reads and redelivers one user's deliveries; endpoints are checked through the service."""

    def __init__(
        self,
        service: WebhookService,
        client: Client,
        starter: DeliveryStarter,
        tokens: PageTokens,
    ) -> None:
        self.service = service
        self.db = service.db
        self.client = client
        self.starter = starter
        self.tokens = tokens

    async def page(
        self,
        user_id: str,
        endpoint_id: str,
        *,
        status: str | None,
        event: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[WebhookDelivery], str | None]:
        """Newest first; returns the page and the (signed) cursor of the next one."""
        scope = f"deliveries|{endpoint_id}|{status or ''}|{event or ''}"
        before = None
        if cursor:
            before = _after(self.tokens.open(cursor, owner=user_id, scope=scope, field="cursor"))
        await self.service.get(user_id, endpoint_id)
        rows, more = await webhook_repo.page_deliveries(
            self.db, user_id, endpoint_id, status=status, event=event, limit=limit, before=before
        )
        if not (more and rows):
            return rows, None
        return rows, self.tokens.sign(_position(rows[-1]), owner=user_id, scope=scope)

    async def get(
        self, user_id: str, endpoint_id: str, delivery_id: str
    ) -> tuple[WebhookDelivery, list[WebhookAttempt], WebhookEvent | None]:
        await self.service.get(user_id, endpoint_id)
        found = await webhook_repo.delivery_record(self.db, user_id, endpoint_id, delivery_id)
        if found is None:
            raise DeliveryNotFound("Delivery not found")
        return found

    async def _running(self, delivery_id: str) -> bool:
        try:
            described = await self.client.get_workflow_handle(delivery_id).describe()
        except RPCError:
            return False
        return described.status == WorkflowExecutionStatus.RUNNING

    async def _redeliver(self, row: WebhookDelivery, host: str) -> int:
        """Start the next round of one delivery; its row goes back to ``pending`` first."""
        if row.status in ("pending", "retrying") and await self._running(row.id):
            raise WebhookConflict("Delivery is still in progress", code="DELIVERY_IN_PROGRESS")
        next_round = row.round + 1
        await webhook_repo.reopen_delivery(self.db, row.id, next_round)
        start = DeliveryStart(
            delivery_id=row.id,
            user_id=row.user_id,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            event=row.event,
            round=next_round,
            host=host,
        )
        try:
            await self.starter.start(self.client, start, redeliver=True)
        except WorkflowAlreadyStartedError as exc:
            raise WebhookConflict(
                "Delivery is still in progress", code="DELIVERY_IN_PROGRESS"
            ) from exc
        return next_round

    async def _live_endpoint(self, user_id: str, endpoint_id: str) -> str:
        """The endpoint's host if it may receive deliveries; a conflict if it is disabled."""
        endpoint = await self.service.get(user_id, endpoint_id)
        if endpoint.status == "disabled":
            raise WebhookConflict("Webhook is disabled; enable it first", code="WEBHOOK_DISABLED")
        return summaries.host_of(endpoint.url)

    async def retry(self, user_id: str, endpoint_id: str, delivery_id: str) -> int:
        """Deliver again (same delivery id, next round); returns the round number."""
        row, _attempts, _event = await self.get(user_id, endpoint_id, delivery_id)
        host = await self._live_endpoint(user_id, endpoint_id)
        return await self._redeliver(row, host)

    async def recover(
        self, user_id: str, endpoint_id: str, since: datetime
    ) -> tuple[list[str], bool]:
        """Redeliver every failed delivery created since ``since`` (oldest first, at most
        ``RECOVER_LIMIT`` per call); returns the ids and whether more remain."""
        host = await self._live_endpoint(user_id, endpoint_id)
        rows = await webhook_repo.failed_deliveries(
            self.db, user_id, endpoint_id, since, RECOVER_LIMIT + 1
        )
        more = len(rows) > RECOVER_LIMIT
        started: list[str] = []
        for row in rows[:RECOVER_LIMIT]:
            try:
                await self._redeliver(row, host)
            except WebhookConflict:
                continue
            started.append(row.id)
        return started, more
