"""Serve a raw ``temporalio`` baseline as its own worker process until SIGINT or SIGTERM.

The baseline runs on the SDK's default asyncio loop, as a plain ``temporalio`` program
does; ``BENCH_RAW_UVLOOP=1`` runs it on uvloop, as Taskyard's worker runs, to tell what
the loop alone is worth."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from temporalio.worker import Worker


async def serve_raw(
    queue: str, workflows: Sequence[type], activities: Sequence[Callable[..., Any]]
) -> None:
    from engine.services.temporal import connect
    from settings import get_settings

    client = await connect(get_settings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=queue, workflows=workflows, activities=activities):
        await stop.wait()


def run_raw(main: Coroutine[Any, Any, None]) -> None:
    if os.environ.get("BENCH_RAW_UVLOOP") == "1":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)
