"""Fixed-window rate limits per key: in-process by default, Redis when configured.

With Redis every API process shares the same counters (``INCR`` + ``EXPIRE`` in
one round trip), so N processes still give each key one limit.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.reset - time.time())))
        return headers


class RateLimiter(Protocol):
    limit: int

    async def hit(self, identity: str) -> Decision: ...

    async def peek(self, identity: str) -> Decision: ...

    async def close(self) -> None: ...


def _window(now: float) -> tuple[int, int]:
    start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    return start, start + WINDOW_SECONDS


class MemoryRateLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, identity: str) -> Decision:
        start, reset = _window(time.time())
        async with self._lock:
            window, count = self._counts.get(identity, (start, 0))
            if window != start:
                count = 0
                if len(self._counts) > 100_000:
                    self._counts = {k: v for k, v in self._counts.items() if v[0] == start}
            count += 1
            self._counts[identity] = (start, count)
        return Decision(count <= self.limit, self.limit, max(0, self.limit - count), reset)

    async def peek(self, identity: str) -> Decision:
        """The window so far, without counting: refused once ``limit`` hits are in."""
        start, reset = _window(time.time())
        window, count = self._counts.get(identity, (start, 0))
        count = count if window == start else 0
        return Decision(count < self.limit, self.limit, max(0, self.limit - count), reset)

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    def __init__(self, limit: int, url: str, prefix: str = "taskyard:rl") -> None:
        from redis.asyncio import Redis

        self.limit = limit
        self.prefix = prefix
        self.redis = Redis.from_url(url)

    async def hit(self, identity: str) -> Decision:
        start, reset = _window(time.time())
        key = f"{self.prefix}:{identity}:{start}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = await pipe.execute()
        return Decision(count <= self.limit, self.limit, max(0, self.limit - count), reset)

    async def peek(self, identity: str) -> Decision:
        """The window so far, without counting: refused once ``limit`` hits are in."""
        start, reset = _window(time.time())
        count = int(await self.redis.get(f"{self.prefix}:{identity}:{start}") or 0)
        return Decision(count < self.limit, self.limit, max(0, self.limit - count), reset)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()


def create_limiter(limit: int, redis_url: str | None, prefix: str = "taskyard:rl") -> RateLimiter:
    if redis_url:
        return RedisRateLimiter(limit, redis_url, prefix)
    return MemoryRateLimiter(limit)
