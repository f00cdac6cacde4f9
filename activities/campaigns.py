"""Campaign activities: record an enrollment's steps, pause an account's campaigns, and poll
providers without webhooks (the sandbox) for accepted invitations and replies.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from activities.events import DeliveryStarter
from activities.linkedin_events import LinkedInEventSink, batch_signal
from connectors.linkedin_sandbox import answer_jitter, campaign_rules
from engine.models.campaigns import (
    FINISHED_ENROLLMENT,
    POLL_LINKEDIN_EVENTS,
    RECORD_ENROLLMENT,
    ControlSignal,
    PollInput,
    PollOutput,
    ProviderEvent,
    RecordEnrollmentInput,
    RecordEnrollmentOutput,
)
from engine.models.linkedin import (
    PAUSE_ACCOUNT_CAMPAIGNS,
    PauseCampaignsInput,
    PauseCampaignsOutput,
)
from store import campaign_repo, enrollment_repo, lead_repo
from store import linkedin as accounts
from store.campaign_repo import CampaignStateConflict
from store.campaigns import LinkedInCampaign
from store.db import Database, as_utc
from store.enrollment_repo import Awaiting, StepRecord


def sandbox_answers(
    awaiting: list[Awaiting], now: datetime
) -> tuple[list[ProviderEvent], datetime | None]:
    """What the sandbox's members have answered by ``now`` (their public identifiers say
    when: ``connectors.linkedin_sandbox.campaign_rules``), and when the next answer is due."""
    events: list[ProviderEvent] = []
    upcoming: list[datetime] = []
    for item in awaiting:
        row = item.enrollment
        rules = campaign_rules(row.profile_slug)
        answers: list[tuple[str, datetime]] = []
        invited = as_utc(row.invited_at)
        slug = row.profile_slug
        if invited and row.accepted_at is None and rules.accepts_after is not None:
            due = invited + rules.accepts_after + answer_jitter(slug, "accepted")
            answers.append(("accepted", due))
        times = item.message_times
        if row.replied_at is None and rules.replies_after and len(times) >= rules.reply_to:
            due = times[rules.reply_to - 1] + rules.replies_after + answer_jitter(slug, "replied")
            answers.append(("replied", due))
        for kind, due in answers:
            if due > now:
                upcoming.append(due)
                continue
            events.append(
                ProviderEvent(
                    id=f"sandbox:{row.id}:{kind}",
                    provider="sandbox",
                    kind=kind,  # type: ignore[arg-type]
                    account_ref=row.account_id,
                    profile_slug=row.profile_slug,
                    text="Thanks for reaching out! (sandbox)" if kind == "replied" else None,
                    at=due,
                )
            )
    return events, min(upcoming) if upcoming else None


class CampaignActivities:
    """Holds the database and the starter of webhook deliveries."""

    def __init__(self, db: Database, starter: DeliveryStarter | None) -> None:
        self.db = db
        self.starter = starter

    @activity.defn(name=RECORD_ENROLLMENT)
    async def record_campaign_enrollment(
        self, data: RecordEnrollmentInput
    ) -> RecordEnrollmentOutput:
        """A local activity of the enrollment: one step's outcome, or the enrollment's end
        (then whether it was the campaign's last), and the campaign's status now."""
        row = await enrollment_repo.record_step(
            self.db,
            StepRecord(
                enrollment_id=data.enrollment_id,
                campaign_id=data.campaign_id,
                at=data.at,
                step=data.step,
                step_type=data.step_type,
                outcome=data.outcome,
                next_step=data.next_step,
                status=data.status,
                acted=data.acted,
                invited=data.invited,
                messaged=data.messaged,
                provider_user_id=data.provider_user_id,
                error=data.error,
            ),
        )
        if row is not None and row.lead_id:
            if data.invited or data.messaged:
                await lead_repo.set_status(
                    self.db, data.user_id, row.lead_id, "contacted", only_from=("new",)
                )
            if data.status == "replied":
                await lead_repo.set_status(self.db, data.user_id, row.lead_id, "responded")
        completed = False
        if data.status in FINISHED_ENROLLMENT:
            completed = await enrollment_repo.complete_campaign_if_done(self.db, data.campaign_id)
        campaign = await self.db.get_owned(LinkedInCampaign, data.user_id, data.campaign_id)
        return RecordEnrollmentOutput(
            campaign_completed=completed,
            campaign_status=campaign.status if campaign else None,
            pause_reason=campaign.pause_reason if campaign else None,
        )

    @activity.defn(name=PAUSE_ACCOUNT_CAMPAIGNS)
    async def pause_account_campaigns(self, data: PauseCampaignsInput) -> PauseCampaignsOutput:
        """The account was restricted: its running campaigns become paused (with the reason)
        and their enrollments are told with one batch operation."""
        paused: list[str] = []
        for campaign in await campaign_repo.running_campaigns_using(
            self.db, data.user_id, data.account_id
        ):
            try:
                await campaign_repo.transition(
                    self.db,
                    data.user_id,
                    campaign.id,
                    when=("running",),
                    values={"status": "paused", "pause_reason": data.reason},
                )
            except CampaignStateConflict:
                continue  # paused, cancelled or completed meanwhile
            paused.append(campaign.id)
        if paused:
            await batch_signal(
                activity.client(),
                paused,
                ControlSignal(action="pause", reason=data.reason),
                reason=data.reason,
            )
        return PauseCampaignsOutput(campaigns=paused)

    @activity.defn(name=POLL_LINKEDIN_EVENTS)
    async def poll_linkedin_events(self, data: PollInput) -> PollOutput:
        """Report what is due for the account; only the sandbox answers without webhooks."""
        account = await accounts.account_by_id(self.db, data.account_id)
        if account is None or account.provider != "sandbox":
            return PollOutput()
        awaiting = await enrollment_repo.awaiting_answers(self.db, account.id)
        events, next_due = sandbox_answers(awaiting, data.now)
        sink = LinkedInEventSink(self.db, activity.client(), self.starter)
        for event in events:
            await sink.ingest(event)
        return PollOutput(events=len(events), next_due=next_due)
