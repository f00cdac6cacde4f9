"""Workflow runs on the time-skipping test server: delays and back-off pass in moments.

A worker for the workflows queue (the same plan worker.py builds), a real SQLite
database and the real step activity calling a loopback server.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps
from engine.models import queues
from engine.models.jobs import SEARCH_ATTRIBUTES, start_attributes, start_memo
from engine.models.runs import RunState, WorkflowRunInput, start_job_memo
from engine.services.definitions import compile_plan
from settings import Settings
from store.migrate import upgrade
from tests.conftest import session_converter
from tests.fakes.server import serve
from tests.workflows.server import StepTarget
from worker import queue_plans, queue_worker

BIN = Path(sys.executable).parent


@dataclass
class Skipping:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    target: StepTarget

    async def start(
        self,
        steps: list[dict[str, Any]],
        data: dict[str, Any] | None = None,
        *,
        memo: bool = True,
        **extra: Any,
    ) -> WorkflowHandle[Any, Any]:
        """Start a run as the API does (``memo=False``: without the job memo it would have)."""
        run = WorkflowRunInput(
            user_id="u_skip",
            workflow_id="wf_skip",
            version=1,
            plan=compile_plan({"steps": steps}),
            input=data or {},
            heartbeat_timeout_seconds=5.0,
            **extra,
        )
        return await self.client.start_workflow(
            "WorkflowRunWorkflow",
            run,
            id=extra.get("id", "exec_" + uuid.uuid4().hex),
            task_queue=queues.task_queue(self.settings.task_queue_prefix, queues.WORKFLOWS),
            search_attributes=start_attributes("u_skip", "workflow_run"),
            result_type=RunState,
            memo=start_memo(*start_job_memo(run)) if memo else None,
        )


@pytest.fixture(scope="module")
async def skipping(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Skipping]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=session_converter(),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in SEARCH_ATTRIBUTES
            },
        )
    )
    state = tmp_path_factory.mktemp("wfskip")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        state_dir=state,
        database_url=f"sqlite:///{state / 'db.sqlite'}",
        master_keys="t:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        allow_private_urls=True,
        task_queue_prefix="w" + uuid.uuid4().hex[:8],
        activity_heartbeat_timeout_seconds=5.0,
    )
    await asyncio.to_thread(upgrade, settings.database_url)
    deps = ActivityDeps.from_settings(settings)
    worker = queue_worker(env.client, deps, queues.WORKFLOWS, queue_plans(deps)[queues.WORKFLOWS])
    target = StepTarget()
    try:
        async with serve(target.app()) as base_url, worker:
            target.base_url = base_url
            yield Skipping(env, env.client, settings, target)
            target.release_all()
    finally:
        await deps.close()
        await env.shutdown()
