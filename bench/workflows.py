"""Workflows benchmark: a 10-step HTTP workflow through Taskyard against the same ten steps
as raw ``temporalio`` activities, in one run, against one Temporal dev server.

* Taskyard: ``POST /api/v1/workflows/{id}/execute`` on a 10-step chain of
  ``http_request`` steps (each reads the previous step's output through a template),
  served by ``worker.py --queue workflows`` as a separate process.
* Raw: ``client.execute_workflow`` of a workflow that runs ten plain HTTP GET
  activities in sequence (``bench.workflow_raw``), its own worker process.

Both hit the same loopback server. Reported: executions/s at a fixed concurrency,
end-to-end p50/p99 per execution, and step latency (execution time / steps).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.harness import ROOT, Stats, abba, bench_stack, combined, compare, measure, round_ratios
from bench.workflow_raw import RAW_QUEUE, RawSteps, RawStepsWorkflow
from tests.fakes.server import serve

STEPS = 10
EXECUTIONS = int(os.environ.get("BENCH_WORKFLOW_EXECUTIONS", "400"))
ROUNDS = 4  # ABBA rounds of short phases: the host's speed drifts by tens of percent a minute
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "20"))


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "n": int(request.query_params.get("n", "0")) + 1})


def definition(base: str) -> dict[str, object]:
    steps: list[dict[str, object]] = [
        {"name": "s0", "type": "http_request", "config": {"url": f"{base}/ok?n=0"}}
    ]
    for i in range(1, STEPS):
        steps.append(
            {
                "name": f"s{i}",
                "type": "http_request",
                "config": {"url": f"{base}/ok?n={{{{steps.s{i - 1}.output.body.n}}}}"},
            }
        )
    return {"name": "bench", "definition": {"steps": steps}}


def per_step(stats: Stats, label: str) -> str:
    return (
        f"{label:<28} step latency p50 {stats.pct(50) / STEPS:6.1f} ms  "
        f"p99 {stats.pct(99) / STEPS:6.1f} ms"
    )


async def main() -> None:
    target = Starlette(routes=[Route("/ok", _ok)])
    async with serve(target) as base, bench_stack(worker_args=["--queue", "workflows"]) as stack:
        raw_worker = subprocess.Popen(  # noqa: ASYNC220 (a child process)
            [sys.executable, "-m", "bench.workflow_raw"],
            cwd=ROOT,
            env=stack.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _user, key = await stack.new_user()
            async with stack.api(key) as http:
                r = await http.post("/api/v1/workflows", json=definition(base))
                r.raise_for_status()
                workflow_id = r.json()["id"]
            urls = [f"{base}/ok?n={i}" for i in range(STEPS)]

            async def raw(_i: int) -> None:
                done = await stack.client.execute_workflow(
                    RawStepsWorkflow.run,
                    RawSteps(urls=urls),
                    id="raw_" + uuid.uuid4().hex,
                    task_queue=RAW_QUEUE,
                )
                assert done == STEPS

            async with stack.fast(key) as api:

                async def taskyard(_i: int) -> None:
                    status, body = await api.post(
                        f"/api/v1/workflows/{workflow_id}/execute", {"input": {}}
                    )
                    assert status == 202, body
                    state = await stack.client.get_workflow_handle(body["executionId"]).result()
                    assert state["status"] == "completed", state

                await measure(20, 5, taskyard)  # warm both paths
                await measure(20, 5, raw)
                # Drift and noise from other load hit both sides alike; the totals are what
                # is compared.
                per_phase = EXECUTIONS // (2 * ROUNDS)
                results = await abba(
                    ROUNDS,
                    stack.drain,
                    lambda: measure(per_phase, CONCURRENCY, raw),
                    lambda: measure(per_phase, CONCURRENCY, taskyard),
                )
        finally:
            raw_worker.terminate()
            try:
                raw_worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raw_worker.kill()
    raw_all, ty_all = combined(results["raw"]), combined(results["api"])
    phases = 2 * ROUNDS
    print(
        f"{STEPS}-step HTTP chain, concurrency {CONCURRENCY}, {EXECUTIONS} executions each "
        f"({phases} phases each, ABBA order x{ROUNDS})"
    )
    for name, runs in results.items():
        for i, stats in enumerate(runs, 1):
            print(stats.line(f"{'taskyard' if name == 'api' else name} ({i}/{phases})"))
    print(raw_all.line("raw temporalio (total)"))
    print(ty_all.line("taskyard workflow_run (total)"))
    print(raw_all.cpu_line("raw temporalio"))
    print(ty_all.cpu_line("taskyard workflow_run"))
    print(per_step(raw_all, "raw temporalio"))
    print(per_step(ty_all, "taskyard workflow_run"))
    print(compare("executions/s taskyard/raw", ty_all, raw_all))
    print(round_ratios("executions/s taskyard/raw", results["api"], results["raw"]))
