"""Foundation benchmark: tool executions through the API against raw temporalio.

1. Starts: ``POST /api/v1/tools/execute`` with ``"async": true`` against
   ``client.start_workflow`` of the same workflow with the same input.
2. End to end: synchronous ``POST /api/v1/tools/execute`` against
   ``client.execute_workflow``.
The HTTP tool calls a local loopback server in both cases.

``BENCH_CODEC=1`` instead measures payload encryption: the API's starts and synchronous
executions on four stacks, encryption off, on, on, off, and prints on/off throughput.
``BENCH_TELEMETRY=1`` runs all of it on four stacks, telemetry off, on, on, off (traces to
a local collector stub, metrics scraped), and prints what telemetry costs in API
throughput and in CPU per operation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.harness import (
    TELEMETRY,
    TELEMETRY_SIDES,
    BenchStack,
    FastClient,
    Stats,
    bench_stack,
    codec_line,
    codec_sides,
    combined,
    compare,
    cost_line,
    cpu_cost_line,
    measure,
    telemetry_stack,
)
from engine.models import queues
from engine.models.jobs import start_attributes, start_memo
from engine.models.tools import ToolExecutionInput
from engine.workflows.tool_execution import ToolExecutionWorkflow
from tests.fakes.server import serve

STARTS = int(os.environ.get("BENCH_TOOL_STARTS", "400"))
SYNC = int(os.environ.get("BENCH_TOOL_SYNC", "300"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "20"))
SEQUENTIAL = int(os.environ.get("BENCH_TOOL_SEQUENTIAL", "200"))


async def _ok(_request: object) -> JSONResponse:
    return JSONResponse({"ok": True})


def api_calls(
    api: FastClient, params: dict[str, Any]
) -> tuple[Callable[[int], Awaitable[None]], Callable[[int], Awaitable[None]]]:
    """The HTTP tool through the API: an asynchronous start (202) and a synchronous
    execution (200, successful), as ``measure`` calls."""
    body_async = {"toolName": "HTTP_REQUEST", "params": params, "async": True}
    body_sync = {"toolName": "HTTP_REQUEST", "params": params}

    async def api_start(_i: int) -> None:
        status, body = await api.post("/api/v1/tools/execute", body_async)
        assert status == 202, body

    async def api_execute(_i: int) -> None:
        status, body = await api.post("/api/v1/tools/execute", body_sync)
        assert status == 200 and body["successful"], body

    return api_start, api_execute


async def codec_side(side: str, target: str) -> tuple[Stats, Stats]:
    """One stack with ``payload_encryption`` = ``side``: API starts, then sync executions."""
    async with bench_stack(payload_encryption=side) as stack:
        _user, key = await stack.new_user()
        params = {"method": "GET", "url": target + "/ok"}
        async with stack.fast(key) as api:
            api_start, api_execute = api_calls(api, params)
            await measure(20, 5, api_execute)
            starts = await measure(STARTS, CONCURRENCY, api_start)
            await stack.drain()
            return starts, await measure(SYNC, CONCURRENCY, api_execute)


async def codec_main(sides: list[str]) -> None:
    """The API path with payload encryption off and on, one stack per side (ABBA)."""
    results: dict[str, dict[str, list[Stats]]] = {"starts": {}, "end-to-end": {}}
    async with serve(Starlette(routes=[Route("/ok", _ok)])) as target:
        for side in sides:
            starts, executes = await codec_side(side, target)
            print(starts.line(f"encryption {side}: starts"), flush=True)
            print(executes.line(f"encryption {side}: end to end"), flush=True)
            results["starts"].setdefault(side, []).append(starts)
            results["end-to-end"].setdefault(side, []).append(executes)
    print(f"concurrency {CONCURRENCY}; sides in order {', '.join(sides)}")
    for label, by_side in results.items():
        print(codec_line(label, by_side["false"], by_side["true"]))


@dataclass
class Results:
    raw_s: Stats
    api_s: Stats
    raw_e: Stats
    api_e: Stats
    raw_1: Stats
    api_1: Stats

    def lines(self) -> list[str]:
        return [
            f"concurrency {CONCURRENCY}; HTTP tool against a loopback server",
            self.raw_s.line("raw start_workflow"),
            self.api_s.line("API async execute"),
            compare("starts", self.api_s, self.raw_s),
            self.raw_e.line("raw execute_workflow"),
            self.api_e.line("API sync execute"),
            compare("end-to-end", self.api_e, self.raw_e),
            "concurrency 1",
            self.raw_1.line("raw start_workflow"),
            self.api_1.line("API async execute"),
            compare("sequential starts", self.api_1, self.raw_1),
        ]


def merged(runs: list[Results]) -> Results:
    """One side's stacks taken together, phase by phase."""
    return Results(*(combined([getattr(r, f.name) for r in runs]) for f in fields(Results)))


async def run(stack: BenchStack, target: str) -> Results:
    user_id, key = await stack.new_user()
    params = {"method": "GET", "url": target + "/ok"}
    queue = queues.task_queue(stack.settings.task_queue_prefix, queues.TOOLS)

    def raw_input() -> ToolExecutionInput:
        return ToolExecutionInput(
            user_id=user_id,
            tool_name="HTTP_REQUEST",
            params=params,
            timeout_seconds=60,
            heartbeat_timeout_seconds=10,
        )

    async def raw_start(_i: int) -> None:
        await stack.client.start_workflow(
            ToolExecutionWorkflow.run,
            raw_input(),
            id="raw_" + uuid.uuid4().hex,
            task_queue=queue,
            search_attributes=start_attributes(user_id, "tool_execution"),
            memo=start_memo("Queued HTTP_REQUEST", {"toolName": "HTTP_REQUEST"}),
        )

    async def raw_execute(_i: int) -> None:
        await stack.client.execute_workflow(
            ToolExecutionWorkflow.run,
            raw_input(),
            id="raw_" + uuid.uuid4().hex,
            task_queue=queue,
            search_attributes=start_attributes(user_id, "tool_execution"),
            memo=start_memo("Queued HTTP_REQUEST", {"toolName": "HTTP_REQUEST"}),
        )

    async with stack.fast(key) as api:
        api_start, api_execute = api_calls(api, params)

        # Warm both paths (connections, caches) before measuring.
        await measure(20, 5, api_execute)
        await measure(20, 5, raw_execute)

        # Each phase starts on an idle system (drained), and the order alternates.
        raw_s = await measure(STARTS, CONCURRENCY, raw_start)
        await stack.drain()
        api_s = await measure(STARTS, CONCURRENCY, api_start)
        await stack.drain()
        api_e = await measure(SYNC, CONCURRENCY, api_execute)
        await stack.drain()
        raw_e = await measure(SYNC, CONCURRENCY, raw_execute)
        await stack.drain()
        # One request at a time: what the API hop itself adds, without the
        # API process competing with Temporal and the worker for the cores.
        raw_1 = await measure(SEQUENTIAL, 1, raw_start)
        await stack.drain()
        api_1 = await measure(SEQUENTIAL, 1, api_start)
        await stack.drain()
    return Results(raw_s, api_s, raw_e, api_e, raw_1, api_1)


async def main() -> None:
    if sides := codec_sides():
        await codec_main(sides)
        return
    target_app = Starlette(routes=[Route("/ok", _ok)])
    async with serve(target_app) as target:
        if not TELEMETRY:
            async with bench_stack() as stack:
                results = await run(stack, target)
            print("\n".join(results.lines()))
            return
        variants: dict[bool, list[Results]] = {False: [], True: []}
        for on in TELEMETRY_SIDES:
            async with telemetry_stack(on) as (stack, report):
                variants[on].append(await run(stack, target))
            print(f"--- {report.line()}")
            print("\n".join(variants[on][-1].lines()), flush=True)
    for pair, (off_e, on_e) in enumerate(zip(variants[False], variants[True], strict=True), 1):
        print(cpu_cost_line(f"end-to-end, pair {pair}", off_e.api_e, on_e.api_e))
    off, on_ = merged(variants[False]), merged(variants[True])
    print("--- what telemetry costs (API throughput, on over off, both stacks of a side)")
    print(cost_line("starts", off.api_s, on_.api_s))
    print(cost_line("end-to-end", off.api_e, on_.api_e))
    print(cost_line("sequential starts", off.api_1, on_.api_1))
    print(cost_line("raw end-to-end (worker side only)", off.raw_e, on_.raw_e))
    print(cpu_cost_line("end-to-end", off.api_e, on_.api_e))
    print(cpu_cost_line("sequential starts", off.api_1, on_.api_1))
