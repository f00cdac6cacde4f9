"""Provider events in: from a webhook (through the API), the sandbox's hand-fired events, or
the poller. One place turns each into signals, whoever received it.

* An invitation accepted or a message received finds the account's open enrollments of
  that member in the database (by public identifier or provider id) and signals each;
  a reply also makes the lead ``responded``. The event goes out to webhooks as
  ``linkedin.invitation.accepted`` / ``linkedin.message.received``.
* An account restricted, disconnected or running again goes to the account's governor,
  which pauses the account's campaigns and tells the owner.

Every step is idempotent: the event id is claimed once (a repeat is answered at once), the
first acceptance and reply times are kept, and the workflows ignore event ids they have
seen, so a provider's retries and out-of-order deliveries change nothing.

Also the batch operations that reach all of a campaign's enrollments with one request.
"""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.api.batch.v1 import BatchOperationCancellation, BatchOperationSignal
from temporalio.api.common.v1 import Payloads
from temporalio.api.workflowservice.v1 import StartBatchOperationRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.events import DeliveryStarter, store_and_plan
from engine.models.campaigns import (
    SIGNAL_CONTROL,
    SIGNAL_PROVIDER_EVENT,
    ControlSignal,
    IngestResult,
    ProviderEvent,
    ProviderSignal,
)
from engine.models.events import EventInput, PublishEventsInput, event_id_for
from engine.models.jobs import SA_CAMPAIGN_ID
from engine.models.linkedin import SIGNAL_ACCOUNT_STATUS, AccountStatusChange, governor_id
from store import enrollment_repo, lead_repo
from store import linkedin as accounts
from store.db import Database, utcnow
from store.linkedin import LinkedInAccount

EVENT_NAMES = {"accepted": "linkedin.invitation.accepted", "replied": "linkedin.message.received"}


def _gone(exc: RPCError) -> bool:
    return exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


class LinkedInEventSink:
    """Turns normalized provider events into signals and webhook events."""

    def __init__(self, db: Database, client: Client, starter: DeliveryStarter | None) -> None:
        self.db = db
        self.client = client
        self.starter = starter

    async def accounts(self, event: ProviderEvent) -> list[LinkedInAccount]:
        if event.provider == "sandbox":
            found = await accounts.account_by_id(self.db, event.account_ref)
            return [found] if found is not None else []
        return await accounts.accounts_by_automation_id(self.db, event.account_ref)

    async def ingest(self, event: ProviderEvent) -> IngestResult:
        found = await self.accounts(event)
        account_id = found[0].id if found else None
        claimed = await enrollment_repo.claim_event(
            self.db, event.id, provider=event.provider, kind=event.kind, account_id=account_id
        )
        if not claimed:
            return IngestResult(duplicate=True, account_id=account_id)
        matched = 0
        for account in found:
            if event.kind == "account_status":
                await self._account_status(account, event)
            else:
                matched += await self._member_event(account, event)
        await enrollment_repo.event_processed(self.db, event.id)
        return IngestResult(matched=matched, account_id=account_id)

    async def _account_status(self, account: LinkedInAccount, event: ProviderEvent) -> None:
        change = AccountStatusChange(
            status=event.status or "restricted",
            event_id=event.id,
            user_id=account.user_id,
            reason=event.reason,
            at=event.at,
        )
        try:
            await self.client.get_workflow_handle(governor_id(account.id)).signal(
                SIGNAL_ACCOUNT_STATUS, change
            )
        except RPCError as exc:
            if not _gone(exc):
                raise  # not processed: the provider's retry (or the next poll) tries again

    async def _member_event(self, account: LinkedInAccount, event: ProviderEvent) -> int:
        kind = event.kind
        at = event.at or utcnow()
        rows = await enrollment_repo.enrollments_for_member(
            self.db, account.id, slug=event.profile_slug, provider_user_id=event.provider_user_id
        )
        if rows:
            await enrollment_repo.mark_member_event(self.db, [r.id for r in rows], kind, at)
        signal = ProviderSignal(event_id=event.id, kind=kind, at=at)  # type: ignore[arg-type]
        for row in rows:
            try:
                await self.client.get_workflow_handle(row.id).signal(SIGNAL_PROVIDER_EVENT, signal)
            except RPCError as exc:
                if not _gone(exc):
                    raise
            if kind == "replied" and row.lead_id:
                await lead_repo.set_status(self.db, row.user_id, row.lead_id, "responded")
        await self._publish(account, event, rows)
        return len(rows)

    async def _publish(self, account: LinkedInAccount, event: ProviderEvent, rows: Any) -> None:
        if self.starter is None:
            return
        name = EVENT_NAMES[event.kind]
        data: dict[str, Any] = {
            "accountId": account.id,
            "provider": event.provider,
            "profileUrl": (
                f"https://www.linkedin.com/in/{event.profile_slug}" if event.profile_slug else None
            ),
            "providerUserId": event.provider_user_id,
            "enrollments": [
                {"campaignId": r.campaign_id, "enrollmentId": r.id, "leadId": r.lead_id}
                for r in rows
            ],
        }
        if event.kind == "replied":
            data["text"] = (event.text or "")[:2000]
        occurred = event.at or utcnow()
        publish = PublishEventsInput(
            user_id=account.user_id,
            events=[
                EventInput(
                    name=name,
                    id=event_id_for(f"{event.id}:{account.id}", name),
                    data=data,
                    occurred_at=occurred,
                )
            ],
        )
        starts = await store_and_plan(self.db, publish)
        if starts:
            await self.starter.start_all(self.client, starts)


# ---- reaching a campaign's enrollments ------------------------------------------------------


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def campaign_query(campaign_ids: list[str]) -> str:
    """The visibility query for the running enrollments of some campaigns."""
    quoted = ", ".join(_quote(c) for c in campaign_ids)
    return f"{SA_CAMPAIGN_ID.name} IN ({quoted}) AND ExecutionStatus = 'Running'"


async def batch_signal(
    client: Client, campaign_ids: list[str], signal: ControlSignal, *, reason: str
) -> str:
    """One batch operation signals every running enrollment of the campaigns (pause/resume);
    the server walks visibility, not the client. Returns the batch job id."""
    job_id = f"campaign-{signal.action}-{uuid.uuid4().hex[:16]}"
    payloads = await client.data_converter.encode([signal])
    request = StartBatchOperationRequest(
        namespace=client.namespace,
        visibility_query=campaign_query(campaign_ids),
        job_id=job_id,
        reason=reason,
        signal_operation=BatchOperationSignal(
            signal=SIGNAL_CONTROL, input=Payloads(payloads=payloads), identity="taskyard"
        ),
    )
    await client.workflow_service.start_batch_operation(request)
    return job_id


async def batch_cancel(client: Client, campaign_ids: list[str], *, reason: str) -> str:
    """One batch operation requests cancellation of every running enrollment."""
    job_id = f"campaign-cancel-{uuid.uuid4().hex[:16]}"
    request = StartBatchOperationRequest(
        namespace=client.namespace,
        visibility_query=campaign_query(campaign_ids),
        job_id=job_id,
        reason=reason,
        cancellation_operation=BatchOperationCancellation(identity="taskyard"),
    )
    await client.workflow_service.start_batch_operation(request)
    return job_id
