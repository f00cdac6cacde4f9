"""Serve a raw ``temporalio`` baseline as its own worker process until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from typing import Any

from temporalio.worker import Worker


async def serve_raw(queue: str, workflows: Sequence[type], activities: Sequence[Callable[..., Any]]
                    ) -> None:
    from engine.client import connect
    from settings import get_settings

    client = await connect(get_settings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=queue, workflows=workflows, activities=activities):
        await stop.wait()
