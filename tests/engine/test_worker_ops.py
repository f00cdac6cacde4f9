"""A worker's operations port: SDK and Taskyard metrics, liveness, readiness; JSON logs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity
from temporalio.worker import Worker

from engine.services.telemetry import free_loopback_port
from engine.services.worker_ops import WorkerOpsServer
from tests.conftest import make_settings, new_user, run_stack, settings_env, wait_for
from worker import pollers_ready

ROOT = Path(__file__).resolve().parents[2]


@activity.defn(name="ops_probe")
async def ops_probe() -> None:
    return None


async def _get(url: str) -> httpx.Response | None:
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            return await http.get(url)
        except httpx.TransportError:
            return None


async def test_readiness_follows_the_pollers(temporal_env) -> None:
    worker = Worker(
        temporal_env.client,
        task_queue="ops-" + uuid.uuid4().hex[:8],
        activities=[ops_probe],
    )
    ops = WorkerOpsServer("127.0.0.1", 0, ready=pollers_ready([worker]), sdk_metrics_url=None)
    await ops.start()
    base = f"http://127.0.0.1:{ops.port}"
    try:
        before = await _get(base + "/readyz")
        assert before is not None and before.status_code == 503
        assert before.json() == {"status": "not_ready", "checks": {"pollers": False}}
        task = asyncio.create_task(worker.run())

        async def ready() -> bool:
            r = await _get(base + "/readyz")
            return r is not None and r.status_code == 200

        await wait_for(ready)
        await worker.shutdown()
        await task
        after = await _get(base + "/readyz")
        live = await _get(base + "/livez")
        assert after is not None and after.status_code == 503
        assert live is not None and live.status_code == 200
    finally:
        await ops.stop()


async def test_worker_process_serves_metrics_probes_and_json_logs(
    temporal_env, database_url, tmp_path, target
) -> None:
    port = free_loopback_port()
    settings = make_settings(temporal_env, database_url, tmp_path, worker_metrics_port=port)
    env = settings_env(settings)
    env.pop("TASKYARD_LOG_FORMAT", None)  # the default: JSON
    base = f"http://127.0.0.1:{port}"
    out = tmp_path / "worker.log"
    async with run_stack(temporal_env, settings, with_worker=False) as stack:
        with out.open("wb") as sink:
            proc = subprocess.Popen(  # noqa: ASYNC220 (a child process)
                [sys.executable, "worker.py", "--queue", "tools", "--queue", "webhooks"],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:

            async def ready() -> bool:
                r = await _get(base + "/readyz")
                return r is not None and r.status_code == 200

            await wait_for(ready, timeout=60)
            _user, key = await new_user(stack)
            async with stack.api(key) as api:
                hook = await api.post(
                    "/api/v1/webhooks",
                    json={"name": "m", "url": target.base_url + "/sink", "events": ["*"]},
                )
                assert hook.status_code == 201, hook.text
                r = await api.post(
                    "/api/v1/tools/execute",
                    json={"toolName": "HTTP_REQUEST", "params": {"url": target.base_url + "/sink"}},
                )
                assert r.status_code == 200, r.text

            async def delivered() -> dict[str, float] | None:
                scrape = await _get(base + "/metrics")
                assert scrape is not None and scrape.status_code == 200
                found: dict[str, float] = {}
                for family in text_string_to_metric_families(scrape.text):
                    for s in family.samples:
                        key = s.name + json.dumps(dict(s.labels), sort_keys=True)
                        found[key] = found.get(key, 0.0) + s.value
                attempts = found.get(
                    'taskyard_webhook_delivery_attempts_total{"outcome": "delivered"}', 0.0
                )
                return found if attempts >= 1 else None

            metrics = await wait_for(delivered, timeout=30)
            names = {k.split("{", 1)[0] for k in metrics}
            assert any(n.startswith("temporal_") for n in names), sorted(names)[:20]
            assert metrics['taskyard_jobs_started_total{"kind": "webhook_delivery"}'] >= 1
            live = await _get(base + "/livez")
            assert live is not None and live.json() == {"status": "ok"}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # JSON, one object per line
    assert any("worker metrics" in e["message"] for e in entries)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
