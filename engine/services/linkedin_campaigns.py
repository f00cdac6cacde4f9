"""LinkedIn campaigns for the API: create, change (drafts), list, add and remove targets,
start, pause, resume, cancel, and stats.

The database holds the campaign and one row per target; each started target is one
``campaign_enrollment`` job (workflow id = the row's id) started through ``JobService``.
Controls reach every enrollment of a campaign with one Temporal batch operation selected by
the ``TaskyardCampaignId`` search attribute, never one request per enrollment. The database
is updated first: an enrollment also reads the campaign's status whenever it records a step,
so one the batch missed (not yet visible) still follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.linkedin_events import batch_cancel, batch_signal
from engine.models.campaigns import (
    CampaignSettings,
    CampaignStep,
    ControlSignal,
)
from engine.models.events import event_id_for
from engine.models.jobs import SA_CAMPAIGN_ID
from engine.services.campaign_enroll import (
    AccountNotConnected,
    Enroller,
    steps_of,
)
from engine.services.campaign_plans import (
    CampaignInvalid,
    CompiledCampaign,
    RenderedTarget,
    compile_campaign,
    render_stored,
    render_targets,
)
from engine.services.campaigns import campaign_targets, lead_fields
from engine.services.events import EventPublisher
from engine.services.jobs import JobService
from engine.services.pagination import InvalidPageToken
from settings import Settings
from store import campaign_repo, enrollment_repo
from store import linkedin as accounts
from store.campaigns import LinkedInCampaign, LinkedInEnrollment
from store.db import Database, as_utc, utcnow
from store.errors import InvalidError
from store.lead_repo import LeadFilter

MAX_PER_REQUEST = 1000  # targets per request: the bulk route's limit
OPEN = ("pending", "active")


class UnknownAccount(InvalidError):
    code = "UNKNOWN_LINKEDIN_ACCOUNT"


class TooManyTargets(InvalidError):
    code = "TOO_MANY_TARGETS"


@dataclass(frozen=True)
class Targets:
    profile_urls: list[str]
    leads: list[dict[str, Any]]
    lead_ids: list[str]
    lead_filter: LeadFilter | None = None

    @property
    def empty(self) -> bool:
        return not (self.profile_urls or self.leads or self.lead_ids or self.lead_filter)


@dataclass(frozen=True)
class Added:
    added: int
    duplicates: int
    enrolled: int


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[LinkedInCampaign]
    next_page_token: str | None


class CampaignService:
    """Every call names the caller; another user's campaign is a 404."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        jobs: JobService,
        client: Client,
        events: EventPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.client = client
        self.events = events
        self.enroller = Enroller(settings, db, jobs, client)

    # ---- campaigns ----------------------------------------------------------------------

    async def create(
        self,
        user_id: str,
        *,
        name: str,
        steps: list[CampaignStep],
        settings: CampaignSettings,
        account_ids: list[str] | None,
        targets: Targets | None,
    ) -> tuple[LinkedInCampaign, dict[str, Any]]:
        """A draft (with its first targets, when given) and its counts."""
        compile_campaign(steps)
        chosen = await self._account_ids(user_id, account_ids)
        if targets is not None and not targets.empty:
            # checked before the campaign exists, so a refused request leaves nothing behind
            await self._rendered(user_id, compile_campaign(steps), targets)
            if not chosen:
                raise AccountNotConnected(
                    "Targets need a LinkedIn account to send from: connect one with "
                    "POST /api/v2/users/integrations/linkedin"
                )
        campaign = await campaign_repo.create_campaign(
            self.db,
            LinkedInCampaign(
                user_id=user_id,
                name=name,
                account_ids=chosen,
                steps=[s.model_dump(exclude_none=True) for s in steps],
                settings=settings.model_dump(mode="json", exclude_none=True),
            ),
        )
        if targets is not None and not targets.empty:
            await self.add_targets(user_id, campaign.id, targets)
        return campaign, await self.counts(campaign.id)

    async def get(self, user_id: str, campaign_id: str) -> LinkedInCampaign:
        return await campaign_repo.get_campaign(self.db, user_id, campaign_id)

    async def detail(
        self, user_id: str, campaign_id: str
    ) -> tuple[LinkedInCampaign, dict[str, Any]]:
        campaign = await self.get(user_id, campaign_id)
        return campaign, await self.counts(campaign_id)

    async def counts(self, campaign_id: str) -> dict[str, Any]:
        return await enrollment_repo.campaign_counts(self.db, campaign_id)

    async def page(
        self, user_id: str, *, status: str | None, limit: int, page_token: str | None
    ) -> CampaignPage:
        scope = f"linkedin-campaigns:{status or ''}"
        after = None
        if page_token:
            raw = self.jobs.tokens.open(page_token, owner=user_id, scope=scope).decode()
            stamp, _, last_id = raw.partition("|")
            try:
                after = (datetime.fromisoformat(stamp), last_id)
            except ValueError as exc:
                raise InvalidPageToken() from exc
        rows = await campaign_repo.list_campaigns(
            self.db, user_id, status=status, limit=limit + 1, after=after
        )
        token = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            position = f"{as_utc(last.created_at).isoformat()}|{last.id}".encode()  # type: ignore[union-attr]
            token = self.jobs.tokens.sign(position, owner=user_id, scope=scope)
        return CampaignPage(rows, token)

    async def update(
        self,
        user_id: str,
        campaign_id: str,
        *,
        name: str | None,
        steps: list[CampaignStep] | None,
        settings: CampaignSettings | None,
        account_ids: list[str] | None,
    ) -> LinkedInCampaign:
        """A draft's name, steps, settings or accounts; its targets must still render."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if settings is not None:
            values["settings"] = settings.model_dump(mode="json", exclude_none=True)
        if account_ids is not None:
            values["account_ids"] = await self._account_ids(user_id, account_ids)
        if steps is not None:
            compiled = compile_campaign(steps)
            await self.get(user_id, campaign_id)
            problems = []
            for row in await campaign_repo.enrollments(self.db, campaign_id, statuses=OPEN):
                if render_stored(compiled, row.target_fields) is None:
                    problems.append(
                        {"target": row.profile_url, "message": "its texts no longer render"}
                    )
            if problems:
                raise CampaignInvalid(problems, "targets")
            values["steps"] = [s.model_dump(exclude_none=True) for s in steps]
        return await campaign_repo.update_campaign(
            self.db, user_id, campaign_id, values, when=("draft",)
        )

    async def _account_ids(self, user_id: str, wanted: list[str] | None) -> list[str]:
        """The sending accounts: the user's own (one per user today) unless named."""
        account = await accounts.get_account(self.db, user_id)
        mine = [account.id] if account is not None else []
        if not wanted:
            return mine
        unknown = [a for a in wanted if a not in mine]
        if unknown:
            raise UnknownAccount(
                "Unknown LinkedIn account(s): " + ", ".join(unknown[:10]),
                field="accountIds",
                details={"accountIds": unknown[:10]},
            )
        return list(dict.fromkeys(wanted))

    # ---- targets ------------------------------------------------------------------------

    async def _fields(self, user_id: str, targets: Targets) -> list[dict[str, Any]]:
        found = await campaign_targets(
            self.db,
            user_id,
            profile_urls=targets.profile_urls,
            leads=targets.leads,
            lead_ids=targets.lead_ids,
        )
        if targets.lead_filter is not None:
            room = MAX_PER_REQUEST - len(found)
            matching = await campaign_repo.leads_matching(
                self.db, user_id, targets.lead_filter, room + 1
            )
            if len(matching) > room:
                raise TooManyTargets(
                    f"the lead filter matches more than {room} leads with a LinkedIn URL "
                    f"(at most {MAX_PER_REQUEST} targets per request): narrow it",
                    field="leadFilter",
                )
            found.extend({**lead_fields(lead), "leadId": lead.id} for lead in matching)
        if len(found) > MAX_PER_REQUEST:
            raise TooManyTargets(f"at most {MAX_PER_REQUEST} targets per request")
        return found

    async def _rendered(
        self, user_id: str, compiled: CompiledCampaign, targets: Targets
    ) -> tuple[list[RenderedTarget], int]:
        return await render_targets(compiled, await self._fields(user_id, targets))

    async def add_targets(self, user_id: str, campaign_id: str, targets: Targets) -> Added:
        """Render and store new targets; a running or paused campaign enrolls them at once."""
        campaign = await self.get(user_id, campaign_id)
        if campaign.status in ("completed", "cancelled"):
            raise campaign_repo.CampaignStateConflict(
                f"Campaign {campaign_id} is {campaign.status}",
                details={"status": campaign.status},
            )
        if not campaign.account_ids:
            raise AccountNotConnected("The campaign has no LinkedIn account to send from")
        rendered, repeats = await self._rendered(
            user_id, compile_campaign(steps_of(campaign)), targets
        )
        known = await campaign_repo.count_targets(self.db, campaign_id)
        if known + len(rendered) > self.settings.campaign_max_targets:
            raise TooManyTargets(
                f"a campaign holds at most {self.settings.campaign_max_targets} targets "
                f"(it has {known})"
            )
        n = len(campaign.account_ids)
        rows = [
            LinkedInEnrollment(
                campaign_id=campaign_id,
                user_id=user_id,
                account_id=campaign.account_ids[(known + i) % n],
                lead_id=t.lead_id,
                profile_url=t.profile_url,
                profile_slug=t.slug,
                target_fields=t.fields,
                position=known + i,
            )
            for i, t in enumerate(rendered)
        ]
        added, duplicates = await campaign_repo.add_enrollments(self.db, rows)
        enrolled = 0
        if campaign.status in ("running", "paused") and added:
            enrolled = await self.enroller.enroll(campaign, added)
        return Added(len(added), duplicates + repeats, enrolled)

    async def remove(self, user_id: str, campaign_id: str, ref: str) -> LinkedInEnrollment:
        """Take one lead out: its enrollment is cancelled (withdrawn from its governor)."""
        await self.get(user_id, campaign_id)
        row = await campaign_repo.find_enrollment(self.db, campaign_id, ref)
        # marked first: the enrollment records its own end when cancelled, and would win
        await campaign_repo.set_enrollment_status(self.db, [row.id], "removed", only_from=OPEN)
        if row.status == "active":
            try:
                await self.client.get_workflow_handle(row.id).cancel()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        return await campaign_repo.find_enrollment(self.db, campaign_id, row.id)

    # ---- controls -----------------------------------------------------------------------

    async def start(self, user_id: str, campaign_id: str) -> tuple[int, str]:
        """Start a draft (or, on a running campaign, enroll targets not yet started: a
        repeated start is how an interrupted one finishes). Returns (how many started, the
        campaign's status)."""
        campaign = await self.get(user_id, campaign_id)
        if campaign.status not in ("draft", "running"):
            raise campaign_repo.CampaignStateConflict(
                f"Campaign {campaign_id} is {campaign.status}",
                details={"status": campaign.status, "allowed": ["draft", "running"]},
            )
        await self.enroller.connected(user_id, campaign)
        pending = await campaign_repo.enrollments(self.db, campaign_id, statuses=("pending",))
        if campaign.status == "draft":
            if not pending:
                raise InvalidError("Add targets before starting the campaign", code="NO_TARGETS")
            await campaign_repo.transition(
                self.db,
                user_id,
                campaign_id,
                when=("draft",),
                values={"status": "running", "started_at": utcnow()},
            )
            campaign = await self.get(user_id, campaign_id)
        return await self.enroller.enroll(campaign, pending), campaign.status

    async def pause(self, user_id: str, campaign_id: str) -> LinkedInCampaign:
        return await self._control(user_id, campaign_id, "pause", "paused by its owner")

    async def resume(self, user_id: str, campaign_id: str) -> LinkedInCampaign:
        return await self._control(user_id, campaign_id, "resume", None)

    async def _control(
        self, user_id: str, campaign_id: str, action: str, reason: str | None
    ) -> LinkedInCampaign:
        before, after = ("running", "paused") if action == "pause" else ("paused", "running")
        campaign = await self.get(user_id, campaign_id)
        if campaign.status != after:  # already there: nothing to do, and no error
            await campaign_repo.transition(
                self.db,
                user_id,
                campaign_id,
                when=(before,),
                values={"status": after, "pause_reason": reason},
            )
            await batch_signal(
                self.client,
                [campaign_id],
                ControlSignal(action=action, reason=reason),  # type: ignore[arg-type]
                reason=f"{action} campaign {campaign_id}",
            )
            if after == "running":  # every enrollment may have ended while it was paused
                await self._completed_meanwhile(campaign)
        return await self.get(user_id, campaign_id)

    async def _completed_meanwhile(self, campaign: LinkedInCampaign) -> None:
        if not await enrollment_repo.complete_campaign_if_done(self.db, campaign.id):
            return
        if self.events is not None:
            name = "campaign.completed"
            await self.events.publish_one(
                campaign.user_id,
                name,
                {"campaignId": campaign.id, "campaignName": campaign.name},
                event_id_for(campaign.id, name),
            )

    async def cancel(self, user_id: str, campaign_id: str) -> LinkedInCampaign:
        """Every open enrollment is cancelled (one batch operation); targets not started
        never start."""
        await campaign_repo.transition(
            self.db,
            user_id,
            campaign_id,
            when=("draft", "running", "paused"),
            values={"status": "cancelled", "finished_at": utcnow()},
        )
        await batch_cancel(self.client, [campaign_id], reason=f"cancel campaign {campaign_id}")
        await campaign_repo.finish_open_enrollments(self.db, campaign_id, "cancelled")
        return await self.get(user_id, campaign_id)

    async def stats(self, user_id: str, campaign_id: str) -> dict[str, Any]:
        """From the database (counters and step outcomes) and one visibility count."""
        campaign = await self.get(user_id, campaign_id)
        counts = await self.counts(campaign_id)
        grouped = await self.client.count_workflows(
            f"{SA_CAMPAIGN_ID.name} = '{campaign_id}' GROUP BY ExecutionStatus"
        )
        workflows = {
            str(g.group_values[0]).lower(): g.count
            for g in grouped.groups
            if str(g.group_values[0]) != "ContinuedAsNew"
        }
        steps = steps_of(campaign)
        per_step = []
        for i, step in enumerate(steps):
            outcomes = counts["steps"].get(i, {})
            per_step.append(
                {
                    "index": i,
                    "type": step.type,
                    "name": step.name,
                    "reached": sum(outcomes.values()),
                    "outcomes": outcomes,
                }
            )
        return {**counts, "steps": per_step, "workflows": workflows, "status": campaign.status}
