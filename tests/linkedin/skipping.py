"""A time-skipping rig for the governor: the real governor and action workflows, and a
provider double registered under the real activity's name (LinkedIn cannot exist here).

Days of pacing pass in moments; every provider call is recorded with the server's
(skipped) clock, so tests can check caps, working hours and delays on real times.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.linkedin import profile_slug
from engine.models.events import PublishEventsInput, PublishEventsOutput
from engine.models.jobs import QUERY_JOB_STATE, SEARCH_ATTRIBUTES, JobState
from engine.models.linkedin import (
    GovernorInput,
    GovernorView,
    LinkedInActionInput,
    LinkedInSettings,
    PerformInput,
    PerformOutput,
    governor_id,
)
from engine.workflows.linkedin_action import LinkedInActionWorkflow
from engine.workflows.linkedin_governor import LinkedInGovernorWorkflow
from tests.conftest import session_converter

BIN = Path(sys.executable).parent
_OUTCOMES = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
    WorkflowExecutionStatus.TERMINATED: "terminated",
}


@dataclass
class Call:
    job_id: str
    action_type: str
    slug: str
    attempt: int
    at: datetime


@dataclass
class FakeProvider:
    """Answers like a provider would; ``plans`` maps a profile slug to per-attempt outcomes."""

    calls: list[Call] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)
    block: set[str] = field(default_factory=set)
    blocked: asyncio.Event = field(default_factory=asyncio.Event)
    retry_after: float | None = None
    events: list[PublishEventsInput] = field(default_factory=list)

    @activity.defn(name="perform_linkedin_action")
    async def perform(self, data: PerformInput) -> PerformOutput:
        info = activity.info()
        slug = profile_slug(data.profile_url)
        self.calls.append(
            Call(
                info.workflow_id or "",
                data.action_type,
                slug,
                data.attempt,
                info.current_attempt_scheduled_time,
            )
        )
        if slug in self.block:
            self.blocked.set()
            while True:  # until the job is cancelled (seen through the heartbeat)
                activity.heartbeat()
                await asyncio.sleep(0.05)
        plan = self.plans.get(slug, ["completed"])
        outcome = plan[min(data.attempt, len(plan)) - 1]
        if outcome == "limit":
            return PerformOutput(
                outcome="limit",
                reason="weekly invitation limit",
                retry_after_seconds=self.retry_after,
            )
        if outcome == "challenge":
            return PerformOutput(outcome="challenge", reason="security verification")
        if outcome == "connected":
            return PerformOutput(
                outcome="completed", summary="already connected", details={"alreadyConnected": True}
            )
        if outcome == "missing":
            raise ApplicationError(
                "get profile: member not found", type="NotFoundError", non_retryable=True
            )
        return PerformOutput(outcome="completed", summary="done", remote_id=slug)

    @activity.defn(name="publish_events")
    async def publish(self, data: PublishEventsInput) -> PublishEventsOutput:
        self.events.append(data)
        return PublishEventsOutput()

    def times(self, action_type: str | None = None) -> list[datetime]:
        return sorted(c.at for c in self.calls if action_type in (None, c.action_type))


@dataclass
class Rig:
    env: WorkflowEnvironment
    queue: str
    provider: FakeProvider

    @property
    def client(self) -> Client:
        return self.env.client

    async def governor(self, account: str, settings: LinkedInSettings, **kw: Any) -> str:
        handle = await self.client.start_workflow(
            LinkedInGovernorWorkflow.run,
            GovernorInput(account_id=account, settings=settings, **kw),
            id=governor_id(account),
            task_queue=self.queue,
        )
        return handle.result_run_id or ""

    async def action(
        self,
        account: str,
        slug: str,
        action_type: str = "sendConnectionRequest",
        not_before: datetime | None = None,
    ) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            LinkedInActionWorkflow.run,
            LinkedInActionInput(
                user_id="u1",
                account_id=account,
                action_type=action_type,
                profile_url=f"https://www.linkedin.com/in/{slug}",
                message="hi" if action_type == "sendMessage" else None,
                not_before=not_before,
                heartbeat_timeout_seconds=2,
            ),
            id=f"job_{slug}_{uuid.uuid4().hex[:6]}",
            task_queue=self.queue,
        )

    async def outcome(self, handle: WorkflowHandle[Any, Any]) -> str:
        """How a job ended, or ``open`` (never ``result()``: that would unlock time skipping)."""
        status = (await handle.describe()).status
        return _OUTCOMES.get(status, "open") if status is not None else "open"

    async def settle(self, accounts: list[str]) -> None:
        """Wait (in real time, clock locked) until the governors and the provider are still.

        Workflows talk with signals; the test server does not hold its clock while a
        signal travels between workflows, so time is only ever skipped from here.
        """
        last: tuple[int, ...] = ()
        quiet = 0
        while quiet < 4:
            views = [await self.view(a) for a in accounts]
            now = (len(self.provider.calls), *(v.historyLength + v.runs for v in views))
            quiet = quiet + 1 if now == last else 0
            last = now
            await asyncio.sleep(0.025)

    async def drive(
        self, accounts: list[str], handles: list[WorkflowHandle[Any, Any]], *, steps: int = 400
    ) -> list[str]:
        """Skip time from one due slot to the next until every job in ``handles`` has ended."""
        idle = 0
        for _ in range(steps):
            await self.settle(accounts)
            outcomes = [await self.outcome(h) for h in handles]
            if "open" not in outcomes:
                return outcomes
            due = [v.nextSlotAt for v in [await self.view(a) for a in accounts] if v.nextSlotAt]
            if not due:  # a busy machine may still be delivering signals: give it time
                idle += 1
                if idle > 50:
                    raise AssertionError(f"stalled: jobs open and nothing due ({outcomes})")
                await asyncio.sleep(0.1)
                continue
            idle = 0
            await self.env.sleep(max(min(due) - await self.now(), timedelta(milliseconds=10)))
        raise AssertionError("the jobs did not finish within the allowed steps")

    async def state(self, handle: WorkflowHandle[Any, Any]) -> JobState:
        return await handle.query(QUERY_JOB_STATE, result_type=JobState)

    async def view(self, account: str) -> GovernorView:
        handle = self.client.get_workflow_handle(governor_id(account))
        for attempt in range(3):  # the test server can stall a query on a loaded machine
            try:
                return await handle.query(
                    LinkedInGovernorWorkflow.view, rpc_timeout=timedelta(seconds=20)
                )
            except RPCError as exc:
                if attempt == 2 or exc.status not in (
                    RPCStatusCode.CANCELLED,
                    RPCStatusCode.DEADLINE_EXCEEDED,
                ):
                    raise
        raise AssertionError("unreachable")

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def run_lengths(self, account: str) -> list[int]:
        """History length of every run of the governor, oldest first.

        Walks back from the latest run (each run's first event names the run it continues);
        lengths come from ``describe`` (the test server can return a continued run's history
        without its last events).
        """
        lengths: list[int] = []
        run_id: str | None = None
        while True:
            handle = self.client.get_workflow_handle(governor_id(account), run_id=run_id)
            description = await handle.describe()
            lengths.append(description.history_length)
            first = await anext(aiter(handle.fetch_history_events()))
            previous = first.workflow_execution_started_event_attributes.continued_execution_run_id
            if not previous:
                return lengths[::-1]
            run_id = previous


@pytest.fixture(scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=session_converter(),
    )
    # The test server has no ListSearchAttributes, but it registers new ones.
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in SEARCH_ATTRIBUTES
            },
        )
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def rig(skipping_env: WorkflowEnvironment) -> AsyncIterator[Rig]:
    provider = FakeProvider()
    queue = "li-" + uuid.uuid4().hex[:8]
    worker = Worker(
        skipping_env.client,
        task_queue=queue,
        workflows=[LinkedInGovernorWorkflow, LinkedInActionWorkflow],
        activities=[provider.perform, provider.publish],
        max_concurrent_workflow_tasks=50,
    )
    async with worker:
        yield Rig(skipping_env, queue, provider)


def gaps(times: list[datetime]) -> list[timedelta]:
    return [b - a for a, b in itertools.pairwise(times)]
