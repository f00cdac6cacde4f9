"""300 events while the webhooks worker is killed (SIGKILL) and restarted several times:
every delivery arrives, duplicates carry the same delivery id, none is lost.

The worker is a real ``python worker.py --queue webhooks`` process on its own task-queue
prefix, so nothing in this test process can pick up its work.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from engine.models.events import EventInput, delivery_id_for, event_id_for
from store.webhooks import WebhookDelivery
from tests.conftest import Stack, new_user, wait_for
from tests.webhooks.helpers import create_hook, publisher
from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 300
BATCH = 10
BUDGET = 110.0  # seconds for the whole run, kills included
KILL_AT = (40, 120, 200)  # distinct deliveries received before each kill


def worker_env(stack: Stack, prefix: str, state: Path) -> dict[str, str]:
    s = stack.settings
    assert s.master_keys is not None
    return {
        **os.environ,
        "TASKYARD_ENVIRONMENT": "test",
        "TASKYARD_STATE_DIR": str(state),
        "TASKYARD_DATABASE_URL": s.database_url,
        "TASKYARD_TEMPORAL_ADDRESS": s.temporal_address,
        "TASKYARD_MASTER_KEYS": s.master_keys.get_secret_value(),
        "TASKYARD_TASK_QUEUE_PREFIX": prefix,
        "TASKYARD_ALLOW_PRIVATE_URLS": "true",
        "TASKYARD_ACTIVITY_HEARTBEAT_TIMEOUT_SECONDS": "5",
    }


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "worker.py",
            "--queue",
            "webhooks",
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=sink,
        )


@pytest.mark.slow
async def test_deliveries_survive_worker_crashes(
    stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/rel"),
            ["lead.created"],
            retryPolicy={"maxAttempts": 10, "backoffMs": 200},
        )
    prefix = "rel" + uuid.uuid4().hex[:8]
    env = worker_env(stack, prefix, tmp_path)
    log = tmp_path / "worker.log"
    events = [event_id_for(f"lead_{n}", "lead.created") for n in range(EVENTS)]
    expected = {delivery_id_for(e, hook["id"]): n for n, e in enumerate(events)}

    gate = asyncio.Semaphore(10)

    async def emit(batch: int) -> None:
        """Ten events per fan-out workflow, as a job emitting several events does."""
        async with gate:
            numbers = range(batch * BATCH, (batch + 1) * BATCH)
            await publisher(stack, prefix=prefix).publish(
                user,
                [EventInput(name="lead.created", data={"n": n}, id=events[n]) for n in numbers],
                fanout_id=f"fanout-{prefix}-{batch}",
            )

    def distinct() -> set[str]:
        return {r.headers["x-webhook-delivery"] for r in receiver.at("/rel")}

    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUDGET

    def left() -> float:
        return max(1.0, deadline - loop.time())

    began = loop.time()
    marks: list[str] = []

    def mark(label: str) -> None:
        marks.append(f"{label} at {loop.time() - began:.1f}s ({len(distinct())} arrived)")

    worker = await start_worker(env, log)
    publishing = asyncio.gather(*(emit(b) for b in range(EVENTS // BATCH)))
    try:
        for threshold in KILL_AT:

            async def reached(threshold: int = threshold) -> bool:
                return len(distinct()) >= threshold

            await wait_for(reached, timeout=left(), interval=0.02)
            worker.kill()  # SIGKILL: no graceful shutdown, in-flight work is lost
            await worker.wait()
            mark("killed")
            worker = await start_worker(env, log)
        await publishing
        mark("published")

        async def all_arrived() -> bool:
            return len(distinct()) == EVENTS

        await wait_for(all_arrived, timeout=left(), interval=0.1)
        mark("all arrived")

        async def all_recorded() -> bool:
            async with stack.deps.db.session() as session:
                done = (
                    await session.exec(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(
                            col(WebhookDelivery.id).in_(list(expected)),
                            WebhookDelivery.status == "succeeded",
                        )
                    )
                ).one()
            return done == EVENTS

        await wait_for(all_recorded, timeout=left(), interval=0.2)
    finally:
        print("\nreliability run: " + "; ".join(marks))
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        if worker.returncode is None:
            worker.terminate()
            await worker.wait()
    received = receiver.at("/rel")
    assert distinct() == set(expected)
    for rec in received:  # any duplicate carries the delivery id of its own event
        delivery_id = rec.headers["x-webhook-delivery"]
        assert json.loads(rec.body)["data"]["n"] == expected[delivery_id]
        assert rec.headers["webhook-id"] == delivery_id
    print(
        f"\n{len(received)} requests for {EVENTS} deliveries "
        f"({len(received) - EVENTS} duplicates across {len(KILL_AT)} worker kills)"
    )
