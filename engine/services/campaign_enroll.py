"""Starting campaign enrollments: one ``campaign_enrollment`` job per target, started
through ``JobService`` (the search attribute ``TaskyardCampaignId`` added), after the sending
accounts' governors (and pollers, for providers without webhooks) are made sure to run.
Each target's texts are rendered again from what it stored, with the campaign's steps.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from engine.models import queues
from engine.models.campaigns import (
    CAMPAIGN_ENROLLMENT_WORKFLOW,
    JOB_TYPE,
    POLLER_WORKFLOW,
    CampaignSettings,
    CampaignStep,
    EnrollmentInput,
    PollerInput,
    poller_id,
)
from engine.models.jobs import SA_CAMPAIGN_ID
from engine.models.linkedin import LinkedInSettings
from engine.services.campaign_plans import CompiledCampaign, compile_campaign, render_stored
from engine.services.jobs import JobService
from engine.services.linkedin import ensure_governor
from settings import Settings
from store import campaign_repo
from store import linkedin as accounts
from store.campaigns import LinkedInCampaign, LinkedInEnrollment
from store.db import Database, as_utc, utcnow
from store.errors import ConflictError
from store.linkedin import LinkedInAccount


class AccountNotConnected(ConflictError):
    code = "LINKEDIN_NOT_CONNECTED"


def steps_of(campaign: LinkedInCampaign) -> list[CampaignStep]:
    return [CampaignStep.model_validate(s) for s in campaign.steps]


def settings_of(campaign: LinkedInCampaign) -> CampaignSettings:
    return CampaignSettings.model_validate(campaign.settings or {})


def account_settings(account: LinkedInAccount) -> LinkedInSettings:
    return LinkedInSettings.model_validate(account.settings or {})


class Enroller:
    """Starts a campaign's enrollments; the campaign service's hands."""

    def __init__(self, settings: Settings, db: Database, jobs: JobService, client: Client) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.client = client

    async def connected(
        self, user_id: str, campaign: LinkedInCampaign
    ) -> dict[str, LinkedInAccount]:
        found: dict[str, LinkedInAccount] = {}
        for account_id in campaign.account_ids:
            account = await accounts.account_by_id(self.db, account_id)
            if account is None or account.user_id != user_id or account.status != "connected":
                raise AccountNotConnected(
                    "LinkedIn is not connected for this user: connect it first with "
                    "POST /api/v2/users/integrations/linkedin"
                )
            found[account_id] = account
        if not found:
            raise AccountNotConnected(
                "The campaign has no LinkedIn account: connect one with "
                "POST /api/v2/users/integrations/linkedin"
            )
        return found

    async def _ensure_account_workflows(self, account: LinkedInAccount) -> None:
        queue = queues.task_queue(self.settings.task_queue_prefix, queues.LINKEDIN)
        await ensure_governor(
            self.client, account_id=account.id, settings=account_settings(account), queue=queue
        )
        if account.provider == "sandbox":  # no webhooks: its answers are polled
            await self.client.start_workflow(
                POLLER_WORKFLOW,
                PollerInput(
                    account_id=account.id,
                    max_interval_seconds=self.settings.linkedin_poll_max_interval_seconds,
                ),
                id=poller_id(account.id),
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def enroll(self, campaign: LinkedInCampaign, rows: list[LinkedInEnrollment]) -> int:
        """Start one enrollment job per row; rows already started count as started."""
        if not rows or campaign.status not in ("running", "paused"):
            return 0
        found = await self.connected(campaign.user_id, campaign)
        for account in found.values():
            await self._ensure_account_workflows(account)
        compiled = compile_campaign(steps_of(campaign))
        gate = asyncio.Semaphore(self.settings.campaign_start_concurrency)
        started: list[str] = []
        broken: list[str] = []

        async def one(row: LinkedInEnrollment) -> None:
            data = self._input(campaign, compiled, found[row.account_id], row)
            if data is None:
                broken.append(row.id)
                return
            async with gate:
                try:
                    await self.jobs.start(
                        CAMPAIGN_ENROLLMENT_WORKFLOW,
                        data,
                        job_id=row.id,
                        user_id=campaign.user_id,
                        job_type=JOB_TYPE,
                        queue=queues.LINKEDIN,
                        message=f"Step 1/{len(data.steps)}: starting",
                        metadata=start_metadata(data),
                        extra_attributes=[SearchAttributePair(SA_CAMPAIGN_ID, campaign.id)],
                    )
                except WorkflowAlreadyStartedError:
                    pass  # an earlier, interrupted start got this far
            started.append(row.id)

        try:
            await asyncio.gather(*(one(r) for r in rows))
        finally:
            await campaign_repo.set_enrollment_status(
                self.db, started, "active", only_from=("pending",), started=True
            )
            await campaign_repo.set_enrollment_status(
                self.db, broken, "failed", only_from=("pending",)
            )
        return len(started)

    def _input(
        self,
        campaign: LinkedInCampaign,
        compiled: CompiledCampaign,
        account: LinkedInAccount,
        row: LinkedInEnrollment,
    ) -> EnrollmentInput | None:
        texts = render_stored(compiled, row.target_fields)
        if texts is None:
            return None
        settings = settings_of(campaign)
        window = settings.workingHours
        effective = window or account_settings(account).working_hours
        timezone = effective.timezone if effective is not None else "UTC"
        not_before = None
        per_day = settings.newLeadsPerDay
        started = as_utc(campaign.started_at) or utcnow()
        if per_day and row.position >= per_day:
            not_before = started + timedelta(days=row.position // per_day)
        return EnrollmentInput(
            user_id=campaign.user_id,
            campaign_id=campaign.id,
            campaign_name=campaign.name,
            account_id=account.id,
            provider=account.provider,
            profile_url=row.profile_url,
            lead_id=row.lead_id,
            lead={k: v for k, v in row.target_fields.items() if k != "profileUrl"},
            steps=compiled.steps,
            texts=texts,
            hours=window,
            timezone=timezone,
            not_before=not_before,
            paused=campaign.status == "paused",
            pause_reason=campaign.pause_reason,
            poller_id=poller_id(account.id) if account.provider == "sandbox" else None,
            history_limit=self.settings.campaign_history_limit,
            activity_timeout_seconds=self.settings.http_timeout_seconds * 3 + 30,
            heartbeat_timeout_seconds=self.settings.activity_heartbeat_timeout_seconds,
        )


def start_metadata(data: EnrollmentInput) -> dict[str, Any]:
    """The job metadata an enrollment starts with (and begins with: nothing to re-write)."""
    return {
        "campaignId": data.campaign_id,
        "leadId": data.lead_id,
        "profileUrl": data.profile_url,
        "accountId": data.account_id,
        "totalSteps": len(data.steps),
    }
