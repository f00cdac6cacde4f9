"""A worker process killed mid-job: the job still completes on the next worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_settings, new_user, run_stack, settings_env, wait_for

ROOT = Path(__file__).resolve().parents[2]


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "worker.py", "--queue", "tools"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def test_job_survives_a_killed_worker(temporal_env, database_url, tmp_path, target) -> None:
    settings = make_settings(temporal_env, database_url, tmp_path)
    env = settings_env(settings)
    async with run_stack(temporal_env, settings, with_worker=False) as stack:
        _user, key = await new_user(stack)
        first = start_worker(env)
        second: subprocess.Popen[bytes] | None = None
        try:
            async with stack.api(key) as api:
                r = await api.post(
                    "/api/v1/tools/execute",
                    json={
                        "toolName": "HTTP_REQUEST",
                        "async": True,
                        "params": {"url": target.base_url + "/slow"},
                    },
                )
                job_id = r.json()["executionId"]
                await wait_for(lambda: _ready(target.requests, 1), timeout=30)
                os.killpg(first.pid, signal.SIGKILL)  # a crash, not a graceful stop
                first.wait()
                second = start_worker(env)
                # The retry after the heartbeat timeout reaches the server again; let it finish.
                await wait_for(lambda: _ready(target.requests, 2), timeout=30)
                target.release.set()

                async def completed() -> dict | None:
                    job = (await api.get(f"/api/v2/users/jobs/{job_id}")).json()["data"]
                    return job if job["status"] == "completed" else None

                job = await wait_for(completed, timeout=30)
            assert job["progress"] == 100
            handle = stack.client.get_workflow_handle(job_id)
            result = await handle.result()
            assert result["data"]["status"] == 200 and result["data"]["body"] == "finally"
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)


async def _ready(requests: list, count: int) -> bool:
    return len(requests) >= count
