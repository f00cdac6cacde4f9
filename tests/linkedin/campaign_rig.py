"""A time-skipping rig for campaigns: the real campaign service, governor, enrollment and
poller workflows, the real record and poll activities on a real SQLite database, and the
provider double of ``tests/linkedin/skipping.py`` (LinkedIn cannot exist here).

Days of a sequence pass in moments. As for the governor tests, time stays locked and the
rig skips it itself, from one due moment (a slot, a wait's end, a poll) to the next, after
the workflows have settled: the test server does not hold its clock while a signal
travels between two workflows.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.campaigns import CampaignActivities
from engine.models import queues
from engine.models.campaigns import (
    QUERY_ENROLLMENT,
    CampaignSettings,
    CampaignStep,
    ControlSignal,
    EnrollmentView,
    poller_id,
)
from engine.models.jobs import QUERY_JOB_STATE, JobState
from engine.models.linkedin import GovernorView, LinkedInSettings, governor_id
from engine.services.jobs import JobService
from engine.services.linkedin_campaigns import CampaignService, Targets
from engine.services.pagination import PageTokens
from engine.workflows.campaign_enrollment import CampaignEnrollmentWorkflow
from engine.workflows.linkedin_action import LinkedInActionWorkflow
from engine.workflows.linkedin_governor import LinkedInGovernorWorkflow
from engine.workflows.linkedin_poller import LinkedInPollerWorkflow
from settings import Settings
from store import campaign_repo, lead_repo, user_repo
from store import linkedin as accounts
from store.campaigns import LinkedInEnrollment
from store.db import Database, utcnow
from store.migrate import upgrade
from tests.linkedin.skipping import _OUTCOMES, FakeProvider

TOGETHER = timedelta(seconds=5)


@dataclass
class CampaignRig:
    env: WorkflowEnvironment
    queue: str
    provider: FakeProvider
    db: Database
    service: CampaignService
    user_id: str
    account_id: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    def configure(self, **values: Any) -> None:
        """Change the settings the campaign service runs with (e.g. the history limit)."""
        settings = self.service.settings.model_copy(update=values)
        self.service.settings = self.service.enroller.settings = settings

    async def account_settings(self, **values: Any) -> None:
        base: dict[str, Any] = {"min_delay_seconds": 10, "max_delay_seconds": 20}
        base.update(values)
        settings = LinkedInSettings.model_validate(base)
        await accounts.save_settings(self.db, self.user_id, settings.model_dump(mode="json"))

    async def lead(self, slug: str, first_name: str = "Ada") -> str:
        lead = await lead_repo.create_lead(
            self.db,
            self.user_id,
            {
                "first_name": first_name,
                "last_name": "Lovelace",
                "email": f"{slug}@example.com",
                "email_key": f"{slug}@example.com",
                "linkedin_url": f"https://www.linkedin.com/in/{slug}",
            },
        )
        return lead.id

    async def launch(
        self,
        steps: list[dict[str, Any]],
        *,
        slugs: list[str] | None = None,
        lead_ids: list[str] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> tuple[str, list[WorkflowHandle[Any, Any]]]:
        """Create a campaign through the service, start it; the enrollments' handles."""
        campaign, _counts = await self.service.create(
            self.user_id,
            name="rig",
            steps=[CampaignStep.model_validate(s) for s in steps],
            settings=CampaignSettings.model_validate(settings or {}),
            account_ids=None,
            targets=Targets(
                profile_urls=[f"https://www.linkedin.com/in/{s}" for s in slugs or []],
                leads=[],
                lead_ids=lead_ids or [],
            ),
        )
        await self.service.start(self.user_id, campaign.id)
        rows = await campaign_repo.enrollments(self.db, campaign.id)
        return campaign.id, [self.client.get_workflow_handle(r.id) for r in rows]

    async def rows(self, campaign_id: str) -> list[LinkedInEnrollment]:
        return await campaign_repo.enrollments(self.db, campaign_id)

    async def control(
        self, campaign_id: str, handles: list[WorkflowHandle[Any, Any]], action: str
    ) -> None:
        """What the service's pause/resume does, with the batch operation (which the test
        server lacks) replaced by one signal per enrollment."""
        paused = action == "pause"
        await campaign_repo.transition(
            self.db,
            self.user_id,
            campaign_id,
            when=("running",) if paused else ("paused",),
            values={"status": "paused" if paused else "running"},
        )
        for handle in handles:
            if await self.outcome(handle) == "open":
                await handle.signal("campaign_control", ControlSignal(action=action))  # type: ignore[arg-type]

    async def outcome(self, handle: WorkflowHandle[Any, Any]) -> str:
        status = (await handle.describe()).status
        return _OUTCOMES.get(status, "open") if status is not None else "open"

    async def state(self, handle: WorkflowHandle[Any, Any]) -> JobState:
        return await handle.query(QUERY_JOB_STATE, result_type=JobState)

    async def view(self, handle: WorkflowHandle[Any, Any]) -> EnrollmentView:
        return await handle.query(
            QUERY_ENROLLMENT, result_type=EnrollmentView, rpc_timeout=timedelta(seconds=20)
        )

    async def governor(self) -> GovernorView:
        handle = self.client.get_workflow_handle(governor_id(self.account_id))
        return await handle.query(LinkedInGovernorWorkflow.view, rpc_timeout=timedelta(seconds=20))

    async def dump(self, handles: list[WorkflowHandle[Any, Any]]) -> str:
        """The last events of every workflow involved (what holds the clock)."""
        lines = []
        ids = [governor_id(self.account_id), poller_id(self.account_id), *(h.id for h in handles)]
        for workflow_id in ids:
            handle = self.client.get_workflow_handle(workflow_id)
            try:
                events = (await handle.fetch_history()).events[-6:]
            except RPCError as exc:
                lines.append(f"{workflow_id}: {exc}")
                continue
            kinds = [f"{e.event_id}:{e.WhichOneof('attributes')}" for e in events]
            lines.append(f"{workflow_id}: {kinds}")
        return "\n".join(lines)

    async def run_lengths(self, workflow_id: str) -> list[int]:
        """History length of every run of a workflow, oldest first (each run's first event
        names the run it continues)."""
        lengths: list[int] = []
        run_id: str | None = None
        while True:
            handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
            lengths.append((await handle.describe()).history_length)
            first = await anext(aiter(handle.fetch_history_events()))
            previous = first.workflow_execution_started_event_attributes.continued_execution_run_id
            if not previous:
                return lengths[::-1]
            run_id = previous

    async def _activity(self, handles: list[WorkflowHandle[Any, Any]]) -> tuple[int, ...] | None:
        """History lengths of every workflow involved, or None while any has a workflow task
        or an activity in flight (then nothing is settled, however long it has been still)."""
        ids = [governor_id(self.account_id), poller_id(self.account_id)]
        out = [len(self.provider.calls)]
        for workflow_id in [*ids, *(h.id for h in handles)]:
            try:
                described = await self.client.get_workflow_handle(workflow_id).describe()
            except RPCError:
                out.append(-1)
                continue
            raw = described.raw_description
            if raw.pending_activities or raw.HasField("pending_workflow_task"):
                return None
            out.append(described.history_length)
        return tuple(out)

    async def settle(self, handles: list[WorkflowHandle[Any, Any]]) -> None:
        """Wait (real time, clock locked) until nothing moves and nothing is in flight."""
        last: tuple[int, ...] | None = ()
        quiet = 0
        while quiet < 4:
            now = await self._activity(handles)
            quiet = quiet + 1 if now is not None and now == last else 0
            last = now
            await asyncio.sleep(0.03)

    async def due(self, handles: list[WorkflowHandle[Any, Any]]) -> list[datetime]:
        moments: list[datetime] = []
        view = await self.governor()
        if view.nextSlotAt:
            moments.append(view.nextSlotAt)
        try:
            poll = await self.client.get_workflow_handle(poller_id(self.account_id)).query(
                "next_poll",
                result_type=datetime | None,  # type: ignore[arg-type]
            )
            if poll:
                moments.append(poll)
        except RPCError:
            pass
        for handle in handles:
            if await self.outcome(handle) != "open":
                continue
            v = await self.view(handle)
            if v.nextWakeAt and not v.waitingForSlot:
                moments.append(v.nextWakeAt)
        return moments

    async def drive(
        self,
        handles: list[WorkflowHandle[Any, Any]],
        *,
        until: datetime | None = None,
        steps: int = 400,
    ) -> list[str]:
        """Skip time from one due moment to the next until every handle has ended (or the
        clock reaches ``until``)."""
        idle = 0
        for _ in range(steps):
            await self.settle(handles)
            outcomes = [await self.outcome(h) for h in handles]
            now = await self.now()
            if "open" not in outcomes or (until is not None and now >= until):
                return outcomes
            due = [d for d in await self.due(handles) if d > now]
            if until is not None:
                due.append(until)
            if not due:
                idle += 1
                if idle > 50:
                    raise AssertionError(f"stalled: enrollments open and nothing due ({outcomes})")
                await asyncio.sleep(0.1)
                continue
            idle = 0
            # Moments a few seconds apart (a poll that reports an acceptance, and the tick of
            # the wait it ends) pass in one skip: the test server's clock also moves in real
            # time, and its timer would otherwise fire while the signal cancelling it is
            # being handled, which the test server (unlike Temporal) cannot take.
            first = min(due)
            target = max(d for d in due if d <= first + TOGETHER) + timedelta(milliseconds=5)
            try:
                await self.env.sleep(max(target - now, timedelta(milliseconds=10)))
            except RPCError as exc:
                raise AssertionError(
                    f"the test server's clock is stuck: {await self.dump(handles)}"
                ) from exc
        raise AssertionError("the enrollments did not finish within the allowed steps")


@pytest.fixture
async def campaigns(
    skipping_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[CampaignRig]:
    prefix = "c" + uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        state_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        master_keys="t:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        task_queue_prefix=prefix,
        activity_heartbeat_timeout_seconds=2.0,
        linkedin_poll_max_interval_seconds=6 * 3600,
    )
    await asyncio.to_thread(upgrade, settings.database_url)
    db = Database(settings.database_url)
    user = await user_repo.create_user(db, f"{prefix}@example.com", "Rig")
    account = await accounts.ensure_account(db, user.id)
    async with db.session() as session:
        row = await session.get(accounts.LinkedInAccount, account.id)
        assert row is not None
        row.status, row.provider, row.connected_at = "connected", "sandbox", utcnow()
        session.add(row)
        await session.commit()
    provider = FakeProvider()
    queue = queues.task_queue(prefix, queues.LINKEDIN)
    records = CampaignActivities(db, None)
    worker = Worker(
        skipping_env.client,
        task_queue=queue,
        workflows=[
            LinkedInGovernorWorkflow,
            LinkedInActionWorkflow,
            CampaignEnrollmentWorkflow,
            LinkedInPollerWorkflow,
        ],
        activities=[
            provider.perform,
            provider.publish,
            records.record_campaign_enrollment,
            records.poll_linkedin_events,
        ],
        max_concurrent_workflow_tasks=50,
    )
    jobs = JobService(
        skipping_env.client,
        task_queue_prefix=prefix,
        tokens=PageTokens(settings.master_key_ring()),
    )
    service = CampaignService(settings, db, jobs, skipping_env.client)
    try:
        async with worker:
            rig = CampaignRig(skipping_env, queue, provider, db, service, user.id, account.id)
            await rig.account_settings(working_hours=None)
            yield rig
            await _stop_all(rig)
    finally:
        await db.close()


async def _stop_all(rig: CampaignRig) -> None:
    """Terminate what the test left running: a workflow whose worker is gone would hold
    the shared test server's clock (its next task can never complete)."""
    async with rig.db.session() as session:
        rows = (await session.exec(select(LinkedInEnrollment))).all()
    # Never while a task is in flight: the test server would keep that task's hold on its
    # clock, and every later test's skip would wait for it.
    await rig.settle([rig.client.get_workflow_handle(r.id) for r in rows])
    ids = [governor_id(rig.account_id), poller_id(rig.account_id), *(r.id for r in rows)]
    for workflow_id in ids:
        try:
            await rig.client.get_workflow_handle(workflow_id).terminate("test over")
        except RPCError:
            pass  # never started, or already closed
