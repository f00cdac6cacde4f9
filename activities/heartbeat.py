"""Keep an activity heartbeating while it awaits something slow, so cancels arrive quickly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")


async def heartbeating(awaitable: Awaitable[T], interval: float = 1.0) -> T:
    """Await ``awaitable`` while heartbeating every ``interval`` seconds.

    The beat is a timer callback on the loop (it runs in the activity's context), so the
    awaited work stays in the activity's own task: a cancel lands in it directly and a
    call that finishes within ``interval`` costs no extra task.
    """
    loop = asyncio.get_running_loop()
    timer: asyncio.TimerHandle

    def beat() -> None:
        nonlocal timer
        activity.heartbeat()
        timer = loop.call_later(interval, beat)

    timer = loop.call_later(interval, beat)
    try:
        return await awaitable
    finally:
        timer.cancel()
