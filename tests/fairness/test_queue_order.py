"""On one busy task queue (a real dev server with fairness on, as `make run` starts it):
interactive work runs before bulk work, and tenants share the queue by their weights."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from engine.models import queues
from engine.models.fairness import BULK, INTERACTIVE
from engine.models.tools import TOOL_WORKFLOW, ToolExecutionInput
from engine.services.fair_share import FairShare
from engine.services.jobs import JobService
from engine.services.pagination import PageTokens
from tests.conftest import Stack, make_settings, new_user, run_stack, wait_for
from tests.fairness.conftest import set_limits
from tests.fakes.target import Target
from worker import event_publisher, queue_plans


class Backlog:
    """Starts tool executions on a queue nobody serves yet, then serves it one task at a
    time and reports the order their HTTP calls reached the target."""

    def __init__(self, stack: Stack, target: Target) -> None:
        self.stack = stack
        self.target = target
        settings = stack.settings
        self.jobs = JobService(
            stack.client,
            task_queue_prefix=settings.task_queue_prefix,
            tokens=PageTokens(settings.master_key_ring()),
            fair=FairShare(settings, stack.deps.db, stack.client),
        )
        self.handles: list[Any] = []

    async def start(self, user_id: str, name: str, job_class: int) -> None:
        handle = await self.jobs.start(
            TOOL_WORKFLOW,
            ToolExecutionInput(
                user_id=user_id,
                tool_name="HTTP_REQUEST",
                params={"method": "GET", "url": f"{self.target.base_url}/echo/{name}"},
                timeout_seconds=30,
                heartbeat_timeout_seconds=10,
            ),
            job_id=f"exec_{name}_{uuid.uuid4().hex[:8]}",
            user_id=user_id,
            job_type="tool_execution",
            queue=queues.TOOLS,
            message="Queued",
            priority=await self.jobs.priority(user_id, job_class),
        )
        self.handles.append(handle)

    async def drain(self) -> list[str]:
        """Workflows first, activities later: every tool call is scheduled before the one
        activity slot opens, so the order is the matching engine's choice alone and not
        a race between workflow tasks finishing."""
        plan = queue_plans(self.stack.deps)[queues.TOOLS]
        queue = self.jobs.queue(queues.TOOLS)
        workflows = Worker(
            self.stack.client,
            task_queue=queue,
            workflows=plan.workflows,
            # the job's events go out as a local activity, which runs beside the workflow
            activities=[event_publisher(self.stack.deps).publish_events],
            no_remote_activities=True,
        )
        activities = Worker(
            self.stack.client,
            task_queue=queue,
            activities=plan.activities,
            max_concurrent_activities=1,
        )
        async with workflows:
            await wait_for(self._all_scheduled, timeout=60)
            async with activities:
                for handle in self.handles:
                    await handle.result()
        return [r.path.removeprefix("/echo/") for r in self.target.requests]

    async def _all_scheduled(self) -> bool:
        for handle in self.handles:
            raw = (await handle.describe()).raw_description
            if not raw.pending_activities:
                return False
        return True


async def _stack(temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path) -> Any:
    settings = make_settings(
        temporal_env, database_url, tmp_path, task_queue_prefix="fo" + uuid.uuid4().hex[:8]
    )
    return run_stack(temporal_env, settings, with_worker=False)


async def test_interactive_first_then_tenants_share_bulk_work(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path, target: Target
) -> None:
    async with await _stack(temporal_env, database_url, tmp_path) as stack:
        noisy, _ = await new_user(stack)
        quiet, _ = await new_user(stack)
        backlog = Backlog(stack, target)
        for i in range(12):  # the noisy tenant floods the queue first…
            await backlog.start(noisy, f"noisy-bulk-{i}", BULK)
        for i in range(4):  # …then another tenant's bulk work arrives…
            await backlog.start(quiet, f"quiet-bulk-{i}", BULK)
        for i in range(3):  # …and someone waits on an interactive call.
            await backlog.start(noisy, f"noisy-now-{i}", INTERACTIVE)
        order = await backlog.drain()
        described = await backlog.handles[0].describe()
    assert len(order) == 19
    assert {n.rsplit("-", 1)[0] for n in order[:3]} == {"noisy-now"}, order
    quiet_last = max(i for i, n in enumerate(order) if n.startswith("quiet-bulk"))
    # First come, first served would put the quiet tenant's work after all 12 of the noisy
    # tenant's; fair shares interleave them.
    assert quiet_last < order.index("noisy-bulk-7"), order
    info = described.raw_description.workflow_execution_info
    assert (info.priority.priority_key, info.priority.fairness_key) == (BULK, noisy)
    assert info.priority.fairness_weight == 1.0


async def test_a_heavier_tenant_gets_a_bigger_share(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path, target: Target
) -> None:
    async with await _stack(temporal_env, database_url, tmp_path) as stack:
        light, _ = await new_user(stack)
        paying, _ = await new_user(stack)
        assert (await set_limits(stack, paying, fairnessWeight=3)).is_success
        backlog = Backlog(stack, target)
        for i in range(12):
            await backlog.start(light, f"light-{i}", BULK)
        for i in range(6):
            await backlog.start(paying, f"paying-{i}", BULK)
        order = await backlog.drain()
        described = await backlog.handles[-1].describe()
    paying_last = max(i for i, n in enumerate(order) if n.startswith("paying"))
    # Weight 3 against 1: about three of the paying tenant's tasks per light one, so its six
    # are done within the first nine (equal weights would take about twelve).
    assert paying_last <= 9, order
    assert described.raw_description.workflow_execution_info.priority.fairness_weight == 3.0
