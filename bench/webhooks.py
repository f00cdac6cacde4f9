"""Webhook benchmark: deliveries per second received by a local receiver, and p50/p99
from event to receipt, for 1 event × 200 endpoints and 500 events × 1 endpoint,
against the same number of raw one-activity ``temporalio`` workflows (bench.webhook_raw)
that POST the same kind of signed body, in the same run, on the same Temporal server.

Taskyard's path per event: a fan-out workflow (event stored, subscribers found, one
``webhook_delivery`` workflow started per endpoint) and per delivery: secrets decrypted,
both signature schemes, the POST through netguard, the attempt and health recorded.

``BENCH_TELEMETRY=1`` runs all of it on four stacks, telemetry off, on, on, off (traces to a local
collector stub, metrics scraped), and prints what telemetry costs in deliveries/s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from activities.events import DeliveryStarter
from bench.harness import (
    ROOT,
    TELEMETRY,
    TELEMETRY_SIDES,
    BenchStack,
    Stats,
    abba,
    bench_stack,
    codec_line,
    codec_sides,
    combined,
    cost_line,
    cpu_delta,
    cpu_seconds,
    round_ratios,
    telemetry_stack,
)
from bench.webhook_raw import RAW_QUEUE, RawDelivery, RawWebhookWorkflow
from engine.models.events import delivery_id_for, event_id_for
from engine.services.events import EventPublisher
from store.db import Database
from tests.fakes.server import serve

FANOUT = int(os.environ.get("BENCH_WEBHOOK_FANOUT", "200"))
# More endpoints than the default quota allows: the operator lifts it for the fan-out user.
UNCAPPED = {"webhookEndpoints": 0}
EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "20"))
ROUNDS = 2  # ABBA rounds
DEADLINE = 600.0


class Receiver:
    """Records when each delivery id first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self.repeats: dict[str, int] = {}  # delivery id -> requests after the first

    def app(self) -> Starlette:
        async def hook(request: Request) -> PlainTextResponse:
            await request.body()
            self.requests += 1
            delivery = request.headers.get("x-webhook-delivery", "")
            if delivery in self.arrived:
                self.repeats[delivery] = self.repeats.get(delivery, 0) + 1
            self.arrived.setdefault(delivery, time.perf_counter())
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])

    async def wait(self, ids: list[str]) -> None:
        deadline = time.perf_counter() + DEADLINE
        while any(i not in self.arrived for i in ids):
            if time.perf_counter() > deadline:
                missing = sum(i not in self.arrived for i in ids)
                raise RuntimeError(f"{missing} deliveries never arrived")
            await asyncio.sleep(0.01)


async def phase(
    receiver: Receiver,
    ids: list[list[str]],
    send: Callable[[int], Awaitable[None]],
    concurrency: int,
) -> Stats:
    """``send(i)`` emits what produces deliveries ``ids[i]``; timed from send to receipt."""
    sent: dict[str, float] = {}
    counter = iter(range(len(ids)))

    async def lane() -> None:
        for i in counter:
            at = time.perf_counter()
            for delivery_id in ids[i]:
                sent[delivery_id] = at
            await send(i)

    cpu_before = cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    every = [d for group in ids for d in group]
    await receiver.wait(every)
    finished = max(receiver.arrived[d] for d in every)
    return Stats(
        len(every),
        finished - started,
        [receiver.arrived[d] - sent[d] for d in every],
        cpu_delta(cpu_before, cpu_seconds()),
    )


async def endpoints(stack: BenchStack, key: str, url: str, count: int) -> list[str]:
    async with stack.fast(key) as api:

        async def one(i: int) -> str:
            status, body = await api.post(
                "/api/v1/webhooks",
                {"name": f"bench {i}", "url": f"{url}/{i}", "events": ["lead.created"]},
            )
            assert status == 201, body
            return str(body["id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def subscribers(
    stack: BenchStack,
    receiver: Receiver,
    url: str,
    publish: Callable[[str, str], Awaitable[None]],
) -> tuple[str, list[str], str, str]:
    """A user with FANOUT endpoints and one with a single endpoint, the single path warmed
    by 20 deliveries: (fan-out user, its endpoints, single user, its endpoint)."""
    fan_user, fan_key = await stack.new_user(quotas=UNCAPPED)
    many = await endpoints(stack, fan_key, url, FANOUT)
    one_user, one_key = await stack.new_user()
    [single] = await endpoints(stack, one_key, url, 1)
    warm = [event_id_for(uuid.uuid4().hex, "lead.created") for _ in range(20)]
    await phase(
        receiver,
        [[delivery_id_for(e, single)] for e in warm],
        lambda i: publish(one_user, warm[i]),
        5,
    )
    return fan_user, many, one_user, single


def publisher(stack: BenchStack, db: Database) -> Callable[[str, str], Awaitable[None]]:
    events = EventPublisher(stack.client, DeliveryStarter.from_settings(stack.settings), db)

    async def publish(user: str, event_id: str) -> None:
        # As the API publishes (lead.created): with the database at hand.
        await events.publish_one(user, "lead.created", {"leadId": event_id}, event_id)

    return publish


async def run(
    stack: BenchStack, receiver: Receiver, url: str, db: Database
) -> tuple[list[str], Stats, Stats]:
    """The printout, and the 1xN and Nx1 stats of Taskyard's side."""
    publish = publisher(stack, db)

    async def raw(delivery_id: str) -> None:
        await stack.client.start_workflow(
            RawWebhookWorkflow.run,
            RawDelivery(
                url=f"{url}/raw",
                delivery_id=delivery_id,
                event="lead.created",
                data={"leadId": delivery_id},
            ),
            id=delivery_id,
            task_queue=RAW_QUEUE,
        )

    fan_user, many, one_user, single = await subscribers(stack, receiver, url, publish)
    # Warm the raw path too before measuring.
    warm_raw = [f"raw_{uuid.uuid4().hex}" for _ in range(20)]
    await phase(receiver, [[w] for w in warm_raw], lambda i: raw(warm_raw[i]), 5)
    await stack.drain()

    # Both shapes in ABBA rounds (bench.harness.abba): the host's speed drifts.
    async def raw_fan_phase() -> Stats:
        ids = [f"raw_{uuid.uuid4().hex}" for _ in range(FANOUT)]
        return await phase(receiver, [[r] for r in ids], lambda i: raw(ids[i]), FANOUT)

    async def fan_phase() -> Stats:
        event = event_id_for(uuid.uuid4().hex, "lead.created")
        return await phase(
            receiver,
            [[delivery_id_for(event, e) for e in many]],
            lambda _i: publish(fan_user, event),
            1,
        )

    per_phase = EVENTS // (2 * ROUNDS)

    async def raw_many_phase() -> Stats:
        ids = [f"raw_{uuid.uuid4().hex}" for _ in range(per_phase)]
        return await phase(receiver, [[r] for r in ids], lambda i: raw(ids[i]), CONCURRENCY)

    async def many_phase() -> Stats:
        events = [event_id_for(uuid.uuid4().hex, "lead.created") for _ in range(per_phase)]
        return await phase(
            receiver,
            [[delivery_id_for(e, single)] for e in events],
            lambda i: publish(one_user, events[i]),
            CONCURRENCY,
        )

    fans = await abba(ROUNDS, stack.drain, raw_fan_phase, fan_phase)
    halves = await abba(ROUNDS, stack.drain, raw_many_phase, many_phase)
    await stack.drain()
    fan, raw_fan = combined(fans["api"]), combined(fans["raw"])
    raw_many, many_events = combined(halves["raw"]), combined(halves["api"])
    phases = 2 * ROUNDS

    def ratio(ours: Stats, base: Stats) -> str:
        return f"{ours.rate / base.rate:.2f}" if base.rate else "n/a"

    return (
        [
            f"1 event x {FANOUT} endpoints; {EVENTS} events x 1 endpoint "
            f"(published {CONCURRENCY} at a time); loopback receiver; each shape in {phases} "
            f"phases a side, ABBA order x{ROUNDS}",
            fan.line(f"taskyard 1x{FANOUT} (x{phases})"),
            raw_fan.line(f"raw temporalio {FANOUT} wf (x{phases})"),
            fan.cpu_line(f"taskyard 1x{FANOUT}"),
            raw_fan.cpu_line(f"raw temporalio {FANOUT} wf"),
            f"1x{FANOUT}: deliveries/s ratio taskyard/raw = {ratio(fan, raw_fan)}",
            round_ratios(f"1x{FANOUT}", fans["api"], fans["raw"]),
            *(h.line(f"raw ({i}/{phases})") for i, h in enumerate(halves["raw"], 1)),
            *(h.line(f"taskyard ({i}/{phases})") for i, h in enumerate(halves["api"], 1)),
            many_events.line(f"taskyard {EVENTS}x1"),
            raw_many.line(f"raw temporalio {EVENTS} wf"),
            many_events.cpu_line(f"taskyard {EVENTS}x1"),
            raw_many.cpu_line(f"raw temporalio {EVENTS} wf"),
            f"{EVENTS}x1: deliveries/s ratio taskyard/raw = {ratio(many_events, raw_many)}",
            round_ratios(f"{EVENTS}x1", halves["api"], halves["raw"]),
            f"receiver saw {receiver.requests} requests for "
            f"{len(receiver.arrived)} distinct deliveries (repeated: "
            f"{sum(n for d, n in receiver.repeats.items() if not d.startswith('raw_'))} taskyard, "
            f"{sum(n for d, n in receiver.repeats.items() if d.startswith('raw_'))} raw)",
        ],
        fan,
        many_events,
    )


async def measure_stack(
    stack: BenchStack, receiver: Receiver, url: str
) -> tuple[list[str], Stats, Stats]:
    """Everything against one stack, with the raw baseline's worker beside it."""
    log = (stack.state_dir / "raw-worker.log").open("ab")
    raw_worker = subprocess.Popen(  # noqa: ASYNC220 (a child process)
        [sys.executable, "-m", "bench.webhook_raw"],
        cwd=ROOT,
        env=stack.env,
        start_new_session=True,
        stdout=log,
        stderr=log,
    )
    db = Database(stack.settings.database_url)
    try:
        return await run(stack, receiver, url, db)
    finally:
        await db.close()
        raw_worker.terminate()
        try:
            raw_worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raw_worker.kill()
        log.close()


async def codec_side(side: str, receiver: Receiver, url: str) -> tuple[Stats, Stats]:
    """One stack with ``payload_encryption`` = ``side``: 1 x FANOUT, then EVENTS/4 x 1."""
    async with bench_stack(worker_args=["--queue", "webhooks"], payload_encryption=side) as stack:
        db = Database(stack.settings.database_url)
        try:
            publish = publisher(stack, db)
            fan_user, many, one_user, single = await subscribers(stack, receiver, url, publish)
            await stack.drain()
            event = event_id_for(uuid.uuid4().hex, "lead.created")
            fan = await phase(
                receiver,
                [[delivery_id_for(event, e) for e in many]],
                lambda _i: publish(fan_user, event),
                1,
            )
            await stack.drain()
            events = [event_id_for(uuid.uuid4().hex, "lead.created") for _ in range(EVENTS // 4)]
            ones = await phase(
                receiver,
                [[delivery_id_for(e, single)] for e in events],
                lambda i: publish(one_user, events[i]),
                CONCURRENCY,
            )
            return fan, ones
        finally:
            await db.close()


async def codec_main(sides: list[str]) -> None:
    """Taskyard's deliveries with payload encryption off and on, one stack per side (ABBA)."""
    receiver = Receiver()
    fans: dict[str, list[Stats]] = {}
    singles: dict[str, list[Stats]] = {}
    async with serve(receiver.app()) as url:
        for side in sides:
            fan, ones = await codec_side(side, receiver, url)
            print(fan.line(f"encryption {side}: 1x{FANOUT}"), flush=True)
            print(ones.line(f"encryption {side}: {EVENTS // 4}x1"), flush=True)
            fans.setdefault(side, []).append(fan)
            singles.setdefault(side, []).append(ones)
    print(f"sides in order {', '.join(sides)}")
    print(codec_line(f"1x{FANOUT}", fans["false"], fans["true"]))
    print(codec_line(f"{EVENTS // 4}x1", singles["false"], singles["true"]))


async def main() -> None:
    if sides := codec_sides():
        await codec_main(sides)
        return
    worker_args = ["--queue", "webhooks"]
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        if not TELEMETRY:
            async with bench_stack(worker_args=worker_args) as stack:
                lines, _fan, _many = await measure_stack(stack, receiver, url)
            print("\n".join(lines))
            return
        found: dict[bool, list[tuple[Stats, Stats]]] = {False: [], True: []}
        for on in TELEMETRY_SIDES:
            async with telemetry_stack(on, worker_args=worker_args) as (stack, report):
                lines, fan, many = await measure_stack(stack, receiver, url)
            found[on].append((fan, many))
            print(f"--- {report.line()}")
            print("\n".join(lines), flush=True)
    # Each side's stacks taken together, shape by shape.
    off, on_ = (
        [combined(list(shape)) for shape in zip(*found[side], strict=True)]
        for side in (False, True)
    )
    print("--- what telemetry costs (Taskyard deliveries/s, on over off, both stacks of a side)")
    print(cost_line(f"1x{FANOUT}", off[0], on_[0]))
    print(cost_line(f"{EVENTS}x1", off[1], on_[1]))
