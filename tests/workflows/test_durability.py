"""Durability: a worker process killed mid-run, and a 50-step run that continues as new.

These tests run the real worker as a subprocess (``python worker.py --queue
workflows``) against the test's Temporal, database and task-queue prefix, so a
SIGKILL is a real crash.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.conftest import Stack, make_settings, new_user, run_stack, wait_for
from tests.workflows.helpers import create_workflow, execute, execution, finished, http_step
from tests.workflows.server import StepTarget

ROOT = Path(__file__).resolve().parents[2]
HISTORY_LIMIT = 150


def worker_env(settings: Settings) -> dict[str, str]:
    assert settings.master_keys is not None
    return {
        **os.environ,
        "TASKYARD_ENVIRONMENT": "test",
        "TASKYARD_STATE_DIR": str(settings.state_dir),
        "TASKYARD_DATABASE_URL": settings.database_url,
        "TASKYARD_TEMPORAL_ADDRESS": settings.temporal_address,
        "TASKYARD_MASTER_KEYS": settings.master_keys.get_secret_value(),
        "TASKYARD_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "TASKYARD_ALLOW_PRIVATE_URLS": "true",
        "TASKYARD_ACTIVITY_HEARTBEAT_TIMEOUT_SECONDS": "2",
        "TASKYARD_WORKFLOW_HISTORY_LIMIT": str(settings.workflow_history_limit),
    }


class WorkerProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "worker.py",
            "--queue",
            "workflows",
            cwd=str(ROOT),
            env=worker_env(self.settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert b"serving" in line, line

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                await self.kill()


@pytest.fixture(scope="module")
async def solo(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """An API with no in-process worker: the workflows queue is served by subprocesses."""
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path_factory.mktemp("solo"),
        workflow_history_limit=HISTORY_LIMIT,
    )
    async with run_stack(temporal_env, settings, with_worker=False) as running:
        yield running


async def test_worker_killed_mid_run_resumes_without_repeating_finished_steps(
    solo: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(solo)
    first = WorkerProcess(solo.settings)
    second = WorkerProcess(solo.settings)
    await first.start()
    try:
        async with solo.api(key) as api:
            wf = await create_workflow(
                api,
                [
                    http_step("before", t.url("/echo/before")),
                    http_step("slow", t.url("/hold/slow"), dependsOn=["before"]),
                    http_step("after", t.url("/echo/after"), dependsOn=["slow"]),
                ],
            )
            execution_id = await execute(api, wf["id"])

            async def slow_in_flight() -> bool:
                return t.held["slow"] == 1

            await wait_for(slow_in_flight, timeout=30)
            await first.kill()
            await second.start()

            async def redispatched() -> bool:  # the new worker ran the lost step again
                return t.held["slow"] == 2

            await wait_for(redispatched, timeout=60)
            t.release("slow")
            body = await finished(api, execution_id, timeout=60)
    finally:
        await first.kill()
        await second.stop()
    assert body["status"] == "completed", body
    assert (t.hits["before"], t.hits["after"]) == (1, 1)
    assert [s["attempts"] for s in body["steps"]] == [1, 1, 1]


async def test_fifty_steps_continue_as_new_without_running_any_step_twice(
    solo: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(solo)
    steps = []
    for lane in range(5):
        for level in range(10):
            name = f"s{lane}_{level}"
            url = t.url(f"/echo/{name}")
            if level:
                url += f"?prev={{{{steps.s{lane}_{level - 1}.output.body.key}}}}"
            steps.append(http_step(name, url))
    worker = WorkerProcess(solo.settings)
    await worker.start()
    try:
        async with solo.api(key) as api:
            wf = await create_workflow(api, steps)
            execution_id = await execute(api, wf["id"])

            async def progressing() -> bool:
                body = await execution(api, execution_id)
                return body["status"] == "running" and 0 < body["finishedSteps"] < 50

            await wait_for(progressing, timeout=60, interval=0.02)
            body = await finished(api, execution_id, timeout=120)
            jobs = (await api.get("/api/v2/users/jobs", params={"type": "workflow_run"})).json()
    finally:
        await worker.stop()
    assert body["status"] == "completed", body["error"]
    assert body["finishedSteps"] == body["totalSteps"] == 50
    assert all(s["status"] == "succeeded" and s["attempts"] == 1 for s in body["steps"])
    assert set(t.hits.values()) == {1} and len(t.hits) == 50
    assert t.headers["s3_9"] and body["steps"][39]["output"]["body"]["query"] == {"prev": "s3_8"}
    described = await solo.client.get_workflow_handle(execution_id).describe()
    assert described.run_id != described.raw_description.workflow_execution_info.first_run_id
    assert [j["id"] for j in jobs["data"]["jobs"]] == [execution_id]
