"""Fair share benchmark: the noisy neighbour, and the jobs list of a user with many jobs.

1. Tenant A submits ``BENCH_FAIR_BULK`` (2,000) asynchronous tool executions through the
   API (an HTTP call to a loopback server that takes ``BENCH_FAIR_WORK_MS``); while they
   run, tenant B sends ``BENCH_FAIR_B`` (50) synchronous tool executions one at a time.
   B's latency p50/p99 is printed idle, behind A with fairness off (the dev server as
   before, starts without fairness keys: first come, first served), and behind A with
   fairness on (`make run`'s default); and A's throughput with fairness on as a ratio of
   fairness off. Goals: B's p50 within 2× of idle, A ≥ 0.9 of its throughput.
2. ``GET /api/v2/users/jobs`` p50/p99 for a user with ``BENCH_FAIR_JOBS`` (10,000) jobs in
   visibility (A's finished ones plus jobs parked on a queue nobody serves). Goal: p99
   under 100 ms.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.harness import BenchStack, Stats, bench_stack, measure
from engine.models.jobs import start_attributes, start_memo
from engine.models.tools import TOOL_WORKFLOW, ToolExecutionInput
from tests.fakes.server import serve

BULK = int(os.environ.get("BENCH_FAIR_BULK", "2000"))
B_CALLS = int(os.environ.get("BENCH_FAIR_B", "50"))
WORK_MS = int(os.environ.get("BENCH_FAIR_WORK_MS", "20"))
SUBMIT_CONCURRENCY = int(os.environ.get("BENCH_FAIR_SUBMIT_CONCURRENCY", "20"))
JOBS = int(os.environ.get("BENCH_FAIR_JOBS", "10000"))
LIST_CALLS = int(os.environ.get("BENCH_FAIR_LIST_CALLS", "200"))


async def _work(request: Request) -> JSONResponse:
    await asyncio.sleep(int(request.query_params.get("ms", "0")) / 1000)
    return JSONResponse({"ok": True})


def _sync_call(base: str) -> dict[str, object]:
    return {"toolName": "HTTP_REQUEST", "params": {"method": "GET", "url": f"{base}/work?ms=0"}}


async def b_latency(stack: BenchStack, key: str, base: str) -> Stats:
    """B's synchronous calls, one at a time."""
    async with stack.fast(key) as api:

        async def call(_i: int) -> None:
            status, body = await api.post("/api/v1/tools/execute", _sync_call(base))
            assert status == 200 and body["successful"], body

        return await measure(B_CALLS, 1, call)


async def running(stack: BenchStack, user_id: str) -> int:
    query = f"TaskyardUserId = '{user_id}' AND ExecutionStatus = 'Running'"
    return (await stack.client.count_workflows(query)).count


async def noisy_neighbour(
    stack: BenchStack, base: str, *, idle: bool
) -> tuple[dict[str, Stats], str]:
    """A's flood with B's calls behind it (and, when ``idle``, B alone first); the results
    and A's user id."""
    a_user, a_key = await stack.new_user()
    _b_user, b_key = await stack.new_user()
    results: dict[str, Stats] = {}
    async with stack.fast(b_key) as warm:  # connections, caches and the worker's first runs
        for _ in range(10):
            await warm.post("/api/v1/tools/execute", _sync_call(base))
    if idle:
        results["idle"] = await b_latency(stack, b_key, base)
    bulk = {
        "toolName": "HTTP_REQUEST",
        "params": {"method": "GET", "url": f"{base}/work?ms={WORK_MS}"},
        "async": True,
    }
    started = time.perf_counter()
    async with stack.fast(a_key) as api:

        async def submit(_i: int) -> None:
            status, body = await api.post("/api/v1/tools/execute", bulk)
            assert status == 202, body

        await measure(BULK, SUBMIT_CONCURRENCY, submit)
        waiting = await running(stack, a_user)
        results["behind"] = await b_latency(stack, b_key, base)
        left = await running(stack, a_user)
        deadline = time.monotonic() + 1800
        while await running(stack, a_user):
            if time.monotonic() > deadline:
                raise RuntimeError("A's jobs did not finish")
            await asyncio.sleep(0.25)
    seconds = time.perf_counter() - started
    results["a"] = Stats(BULK, seconds, [])
    print(
        f"  (A had {waiting} jobs waiting or running when B began, {left} when B ended)",
        flush=True,
    )
    return results, a_user


async def park_jobs(stack: BenchStack, user_id: str, count: int) -> None:
    """Start ``count`` jobs of the user on a queue nobody serves: they stay in visibility."""
    if count <= 0:
        return
    queue = "parked-" + uuid.uuid4().hex[:8]

    async def start(_i: int) -> None:
        await stack.client.start_workflow(
            TOOL_WORKFLOW,
            ToolExecutionInput(user_id=user_id, tool_name="HTTP_REQUEST", params={}),
            id="exec_" + uuid.uuid4().hex,
            task_queue=queue,
            search_attributes=start_attributes(user_id, "tool_execution"),
            memo=start_memo("Queued HTTP_REQUEST", {"toolName": "HTTP_REQUEST"}),
        )

    await measure(count, 50, start)


async def jobs_list(stack: BenchStack, user_id: str) -> Stats:
    async with stack.api() as admin:
        r = await admin.post(
            "/api/v2/keys", json={"name": "list", "permissions": ["*"], "userId": user_id}
        )
        r.raise_for_status()
        key = r.json()["key"]
    async with stack.fast(key) as api:

        async def call(_i: int) -> None:
            status, body = await api.get("/api/v2/users/jobs")
            assert status == 200, body

        await measure(20, 1, call)  # warm
        return await measure(LIST_CALLS, 1, call)


async def main() -> None:
    target = Starlette(routes=[Route("/work", _work)])
    async with serve(target) as base:
        async with bench_stack(fairness="false") as off:
            print("fairness off: the dev server as before, starts without fairness keys")
            unfair, _a_user = await noisy_neighbour(off, base, idle=True)
        async with bench_stack() as on:
            print("fairness on: `make run`'s defaults")
            fair, a_user = await noisy_neighbour(on, base, idle=False)
            total = (await on.client.count_workflows(f"TaskyardUserId = '{a_user}'")).count
            await park_jobs(on, a_user, JOBS - total)
            listed = await jobs_list(on, a_user)
            jobs = (await on.client.count_workflows(f"TaskyardUserId = '{a_user}'")).count

    idle = unfair["idle"]
    print(f"\nnoisy neighbour: A sends {BULK} async tool executions; B {B_CALLS} sync ones")
    print(idle.line("B idle"))
    print(unfair["behind"].line("B behind A, fairness off"))
    print(fair["behind"].line("B behind A, fairness on"))
    print(
        f"B p50 with fairness on / idle = {fair['behind'].pct(50) / idle.pct(50):.2f}"
        f" (goal <= 2); fairness off / idle = {unfair['behind'].pct(50) / idle.pct(50):.2f}"
    )
    off_rate, on_rate = unfair["a"].rate, fair["a"].rate
    print(
        f"A throughput: fairness off {off_rate:.1f} jobs/s, on {on_rate:.1f} jobs/s,"
        f" ratio on/off = {on_rate / off_rate:.2f} (goal >= 0.9)"
    )
    print(f"\njobs list of a user with {jobs} jobs in visibility")
    print(listed.line("GET /api/v2/users/jobs") + "  (goal p99 < 100 ms)")
