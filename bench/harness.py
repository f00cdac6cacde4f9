"""A dev stack for benchmarks, plus timing helpers.

``bench_stack()`` starts what ``make run`` starts, on free ports in a temporary
directory: the Temporal dev server (WAL SQLite file, as the embedded default),
migrations, one worker process for every queue and one API process. Benchmarks
drive the API over HTTP and compare against raw ``temporalio`` calls made in the
same run against the same server and worker.

    async with bench_stack() as stack:
        user_id, key = await stack.new_user()
        stats = await measure(500, 20, one_call)
        print(stats.line("api"))
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
from temporalio.client import Client

from deploy.devstack import child_options, start_temporal, stop_all, wait_for_temporal
from engine.services.temporal import connect
from settings import Settings
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bna_" + "be" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BenchStack:
    base_url: str
    settings: Settings
    client: Client
    env: dict[str, str]
    state_dir: Path

    def api(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"x-api-key": key or ADMIN_KEY}
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        return httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=120, limits=limits
        )

    def fast(self, key: str | None = None) -> FastClient:
        """A lean HTTP client (aiohttp) for measured loops, so client overhead stays small."""
        return FastClient(self.base_url, key or ADMIN_KEY)

    async def new_user(
        self, permissions: list[str] | None = None, *, quotas: dict[str, int] | None = None
    ) -> tuple[str, str]:
        """A user and a key for it; ``quotas`` overrides the user's quotas as an operator
        would (0: no cap)."""
        async with self.api() as admin:
            email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
            r = await admin.post("/api/v2/users", json={"email": email, "name": "Bench"})
            r.raise_for_status()
            user_id = r.json()["userId"]
            if quotas:
                r = await admin.patch(f"/api/v2/users/{user_id}", json={"quotas": quotas})
                r.raise_for_status()
            r = await admin.post(
                "/api/v2/keys",
                json={"name": "bench", "permissions": permissions or ["*"], "userId": user_id},
            )
            r.raise_for_status()
            return user_id, r.json()["key"]

    async def drain(self, timeout: float = 600.0) -> None:
        """Wait until no workflow is running, so one phase's backlog never loads the next."""
        deadline = time.monotonic() + timeout
        while (await self.client.count_workflows("ExecutionStatus = 'Running'")).count:
            if time.monotonic() > deadline:
                raise RuntimeError("workflows still running after the drain deadline")
            await asyncio.sleep(0.5)

    async def history_length(self, workflow_id: str) -> int:
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        return len(history.events)


class FastClient:
    """``async with stack.fast(key) as http: status, body = await http.post(path, json)``."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.headers = {"x-api-key": key}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FastClient:
        # Drop idle connections before uvicorn does (its keep-alive timeout is 5 s), so a
        # request never races the server closing the connection it was sent on.
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=2)
        self.session = aiohttp.ClientSession(
            self.base_url, headers=self.headers, connector=connector
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def request(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        assert self.session is not None
        async with self.session.request(method, path, json=json) as response:
            return response.status, await response.json(content_type=None)

    async def post(self, path: str, json: Any = None) -> tuple[int, Any]:
        return await self.request("POST", path, json)

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", path)


@asynccontextmanager
async def bench_stack(
    *,
    worker_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    **overrides: str,
) -> AsyncIterator[BenchStack]:
    """The whole stack as separate processes; ``overrides`` are extra TASKYARD_* values,
    ``extra_env`` other variables for the children (OTEL_*)."""
    with tempfile.TemporaryDirectory(prefix="taskyard-bench-") as tmp:
        state = Path(tmp)
        port, ui_port, api_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "TASKYARD_ENVIRONMENT": "test",
            "TASKYARD_STATE_DIR": str(state),
            "TASKYARD_DATABASE_URL": f"sqlite:///{state / 'taskyard.db'}",
            "TASKYARD_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "TASKYARD_TEMPORAL_UI_PORT": str(ui_port),
            "TASKYARD_API_PORT": str(api_port),
            "TASKYARD_ADMIN_KEY": ADMIN_KEY,
            "TASKYARD_MASTER_KEYS": "bench:" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "TASKYARD_ALLOW_PRIVATE_URLS": "true",
            "TASKYARD_RATE_LIMIT_PER_MINUTE": "100000000",
            "TASKYARD_TASK_QUEUE_PREFIX": "bench",
        }
        env.update({f"TASKYARD_{k.upper()}": v for k, v in overrides.items()})
        env.update(extra_env or {})
        values: dict[str, Any] = {
            k.removeprefix("TASKYARD_").lower(): v
            for k, v in env.items()
            if k.startswith("TASKYARD_")
        }
        settings = Settings.model_validate(values)
        children: list[subprocess.Popen[bytes]] = []
        temporal = start_temporal(settings)
        if temporal is not None:
            children.append(temporal)
        try:
            await wait_for_temporal(settings)
            await asyncio.to_thread(upgrade, settings.database_url)
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            for script in (["worker.py", *(worker_args or [])], ["server.py"]):
                children.append(
                    subprocess.Popen(  # noqa: ASYNC220 (a child process, not a blocking call)
                        [sys.executable, *script],
                        cwd=ROOT,
                        env=env,
                        **quiet,
                        **child_options(),  # type: ignore[call-overload]
                    )
                )
            base_url = f"http://127.0.0.1:{api_port}"
            await _wait_healthy(base_url)
            client = await connect(settings)
            yield BenchStack(base_url, settings, client, env, state)
        finally:
            stop_all(children)


async def _wait_healthy(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(base_url + "/api/v2/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not become healthy")
            await asyncio.sleep(0.2)


ROLES = (
    ("temporal", "temporal"),
    ("worker.py", "worker"),
    ("server.py", "api"),
    ("_raw", "raw worker"),
)


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this process and its children, by role.

    On two cores every benchmark is CPU-bound, so the CPU an operation costs each
    process explains a throughput ratio better than wall time does.
    """
    me = psutil.Process()
    used: dict[str, float] = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            line = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        role = (
            "bench"
            if proc.pid == me.pid
            else next((name for key, name in ROLES if key in line), "other")
        )
        used[role] = used.get(role, 0.0) + times.user + times.system
    return used


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}


@dataclass
class Stats:
    count: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float] | None = None  # CPU seconds by role while it ran (cpu_seconds)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<28} {self.count:>6} in {self.seconds:6.2f}s  {self.rate:8.1f}/s  "
            f"p50 {self.pct(50):7.1f} ms  p99 {self.pct(99):7.1f} ms"
        )

    def cpu_line(self, label: str) -> str:
        """CPU milliseconds per operation, by process, and their total."""
        if not self.cpu or not self.count:
            return f"{label:<28} cpu not measured"
        per = {k: v * 1000 / self.count for k, v in sorted(self.cpu.items()) if v > 0.005}
        parts = "  ".join(f"{k} {v:.1f}" for k, v in per.items())
        return f"{label:<28} cpu ms/op  {parts}  total {sum(per.values()):.1f}"


async def measure(total: int, concurrency: int, call: Callable[[int], Awaitable[Any]]) -> Stats:
    """Run ``call(i)`` for i in range(total), ``concurrency`` at a time; time each call."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def lane() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    cpu_before = cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return Stats(total, seconds, latencies, cpu_delta(cpu_before, cpu_seconds()))


def combined(runs: list[Stats]) -> Stats:
    """Phases of one side taken together (counts, seconds, latencies and CPU add up)."""
    cpu: dict[str, float] = {}
    for r in runs:
        for k, v in (r.cpu or {}).items():
            cpu[k] = cpu.get(k, 0.0) + v
    return Stats(
        sum(r.count for r in runs),
        sum(r.seconds for r in runs),
        [x for r in runs for x in r.latencies],
        cpu,
    )


def compare(label: str, api: Stats, raw: Stats) -> str:
    """The ratio line every benchmark prints: API throughput over raw, and added p50."""
    ratio = api.rate / raw.rate if raw.rate else 0.0
    added = api.pct(50) - raw.pct(50)
    return f"{label}: throughput ratio api/raw = {ratio:.2f}, p50 added = {added:+.1f} ms"


async def abba(
    rounds: int,
    drain: Callable[[], Awaitable[None]],
    raw: Callable[[], Awaitable[Stats]],
    api: Callable[[], Awaitable[Stats]],
) -> dict[str, list[Stats]]:
    """Phases in the order raw, api, api, raw, ``rounds`` times, each on a drained system.

    The host's speed drifts by tens of percent within a minute; short phases in this order
    meet the same drift on both sides. Returns each side's phases (``"raw"``, ``"api"``)."""
    results: dict[str, list[Stats]] = {"raw": [], "api": []}
    for side in ("raw", "api", "api", "raw") * rounds:
        await drain()
        results[side].append(await (raw() if side == "raw" else api()))
    return results


def round_ratios(label: str, api: list[Stats], raw: list[Stats]) -> str:
    """Throughput ratio api/raw of each ABBA round (two phases a side), and their median."""
    ratios = []
    for r in range(min(len(api), len(raw)) // 2):
        ours, base = combined(api[2 * r : 2 * r + 2]), combined(raw[2 * r : 2 * r + 2])
        ratios.append(ours.rate / base.rate if base.rate else 0.0)
    shown = " ".join(f"{x:.2f}" for x in ratios)
    median = statistics.median(ratios) if ratios else 0.0
    return f"{label}: per-round ratios {shown} (median {median:.2f})"


def codec_sides() -> list[str]:
    """``BENCH_CODEC=1``: payload encryption off, on, on, off (ABBA, one stack each), so the
    codec's cost is measured under the same drift; otherwise no codec comparison."""
    return ["false", "true", "true", "false"] if os.environ.get("BENCH_CODEC") == "1" else []


def codec_line(label: str, off: list[Stats], on: list[Stats]) -> str:
    """Throughput with encryption on over off (1.00: free) and the p50 it adds."""
    plain, sealed = combined(off), combined(on)
    ratio = sealed.rate / plain.rate if plain.rate else 0.0
    added = sealed.pct(50) - plain.pct(50)
    return (
        f"{label}: codec on/off throughput = {ratio:.3f} (cost {1 - ratio:+.1%}), "
        f"p50 added = {added:+.1f} ms  [{plain.rate:.1f}/s off, {sealed.rate:.1f}/s on]"
    )


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


# Telemetry off and on (BENCH_TELEMETRY=1) ---------------------------------------------

TELEMETRY = os.environ.get("BENCH_TELEMETRY") == "1"
# Off, on, on, off (ABBA, one stack each): the host's drift over the run falls on both
# sides alike instead of on whichever side runs second.
TELEMETRY_SIDES = (False, True, True, False)
SCRAPE_SECONDS = float(os.environ.get("BENCH_SCRAPE_SECONDS", "5"))


class CollectorStub:
    """A local OTLP/HTTP trace receiver: accepts every export and counts it."""

    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def traces(request: Request) -> Response:
            self.bytes += len(await request.body())
            self.exports += 1
            return Response(b"", media_type="application/x-protobuf")

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


@dataclass
class TelemetryReport:
    """What telemetry did during one variant (for the printout)."""

    on: bool
    stub: CollectorStub | None = None
    scrapes: int = 0
    scrape_bytes: int = 0

    def line(self) -> str:
        if not self.on or self.stub is None:
            return "telemetry off: no OTEL_* set, API metrics off, no worker metrics port"
        return (
            f"telemetry on: {self.stub.exports} trace exports ({self.stub.bytes} bytes) to a "
            f"local OTLP stub; {self.scrapes} metrics scrapes ({self.scrape_bytes} bytes), "
            f"every {SCRAPE_SECONDS:g}s of API and worker"
        )


async def _scrape(urls: list[str], report: TelemetryReport, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        while not stop.is_set():
            for url in urls:
                try:
                    r = await http.get(url)
                except httpx.HTTPError:
                    continue
                report.scrapes += 1
                report.scrape_bytes += len(r.content)
            try:
                await asyncio.wait_for(stop.wait(), SCRAPE_SECONDS)
            except TimeoutError:
                pass


@asynccontextmanager
async def telemetry_stack(
    on: bool, *, worker_args: list[str] | None = None
) -> AsyncIterator[tuple[BenchStack, TelemetryReport]]:
    """``bench_stack`` with telemetry off (nothing configured, API metrics off) or on:
    traces exported to a local collector stub, the API's and the worker's metrics served
    and scraped every ``SCRAPE_SECONDS``."""
    from tests.fakes.server import serve

    report = TelemetryReport(on)
    if not on:
        async with bench_stack(worker_args=worker_args, api_metrics="false") as stack:
            yield stack, report
        return
    report.stub = CollectorStub()
    worker_port = free_port()
    async with serve(report.stub.app()) as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_TRACES_EXPORTER": "otlp"}
        async with bench_stack(
            worker_args=worker_args,
            extra_env=env,
            api_metrics="true",
            worker_metrics_port=str(worker_port),
        ) as stack:
            stop = asyncio.Event()
            urls = [stack.base_url + "/metrics", f"http://127.0.0.1:{worker_port}/metrics"]
            scraper = asyncio.create_task(_scrape(urls, report, stop))
            try:
                yield stack, report
            finally:
                stop.set()
                await scraper


def cpu_cost_line(label: str, off: Stats, on: Stats) -> str:
    """CPU per operation with telemetry on over off, in total and by process: on two cores
    the steadier signal, since a throughput ratio drifts with the host."""

    def per_op(stats: Stats) -> dict[str, float]:
        return (
            {k: v * 1000 / stats.count for k, v in (stats.cpu or {}).items()} if stats.count else {}
        )

    before, after = per_op(off), per_op(on)
    total_off, total_on = sum(before.values()), sum(after.values())
    ratio = total_on / total_off if total_off else 0.0
    moved = "  ".join(
        f"{k} {after.get(k, 0.0) - before.get(k, 0.0):+.2f}"
        for k in sorted(set(before) | set(after))
        if abs(after.get(k, 0.0) - before.get(k, 0.0)) >= 0.01
    )
    return (
        f"{label}: cpu ms/op on/off = {ratio:.3f} (cost {100 * (ratio - 1):+.1f} %), "
        f"{total_off:.1f} -> {total_on:.1f} ms; by process {moved}"
    )


def cost_line(label: str, off: Stats, on: Stats) -> str:
    """Throughput with telemetry on over off, and the cost it stands for."""
    ratio = on.rate / off.rate if off.rate else 0.0
    return (
        f"{label}: throughput on/off = {ratio:.3f} (cost {100 * (1 - ratio):+.1f} %), "
        f"p50 {off.pct(50):.1f} -> {on.pct(50):.1f} ms"
    )
