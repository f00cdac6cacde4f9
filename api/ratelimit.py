"""Fixed-window rate limits per key: in-process by default, Redis when configured.

With Redis every API process shares the same counters (``INCR`` + ``EXPIRE`` in
one round trip), so N processes still give each key one limit. When Redis cannot be
reached the API keeps serving: each process counts on its own (the limits then hold
per process), the outage is logged once, health reports ``redis: down``, and Redis is
tried again every few seconds; once it answers, sharing resumes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 60
# How long a Redis round trip may take before the request is counted locally instead, and
# how long after a failure Redis is left alone before it is tried again.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0

log = logging.getLogger("taskyard.api.ratelimit")


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
    """Counters in Redis, shared by every API process; in-process counters while it is away."""

    def __init__(
        self,
        limit: int,
        url: str,
        prefix: str = "taskyard:rl",
        retry_seconds: float = REDIS_RETRY_SECONDS,
    ) -> None:
        from redis.asyncio import Redis

        self.limit = limit
        self.prefix = prefix
        self.redis = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self.fallback = MemoryRateLimiter(limit)
        self.retry_seconds = retry_seconds
        self._down_until: float | None = None  # monotonic time of the next try while away

    @property
    def available(self) -> bool:
        """False while Redis is away and the process counts on its own."""
        return self._down_until is None

    async def hit(self, identity: str) -> Decision:
        if self._down_until is not None and time.monotonic() < self._down_until:
            return await self.fallback.hit(identity)
        start, reset = _window(time.time())
        key = f"{self.prefix}:{identity}:{start}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS + 5)
                count, _ = await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT_SECONDS * 2)
        except Exception as exc:  # any failure to reach Redis: count here instead
            self._went_down(exc)
            return await self.fallback.hit(identity)
        self._came_back()
        return Decision(count <= self.limit, self.limit, max(0, self.limit - count), reset)

    async def peek(self, identity: str) -> Decision:
        """The window so far, without counting: refused once ``limit`` hits are in."""
        if self._down_until is not None and time.monotonic() < self._down_until:
            return await self.fallback.peek(identity)
        start, reset = _window(time.time())
        try:
            raw = await asyncio.wait_for(
                self.redis.get(f"{self.prefix}:{identity}:{start}"), REDIS_TIMEOUT_SECONDS * 2
            )
        except Exception as exc:
            self._went_down(exc)
            return await self.fallback.peek(identity)
        self._came_back()
        count = int(raw or 0)
        return Decision(count < self.limit, self.limit, max(0, self.limit - count), reset)

    def _went_down(self, exc: BaseException) -> None:
        if self._down_until is None:
            log.error(
                "redis unreachable (%s): rate limits are counted per process until it is back",
                type(exc).__name__,
            )
        self._down_until = time.monotonic() + self.retry_seconds

    def _came_back(self) -> None:
        if self._down_until is not None:
            self._down_until = None
            log.warning("redis reachable again: rate limits are shared across processes")

    async def ping(self) -> bool:
        try:
            ok = bool(await asyncio.wait_for(self.redis.ping(), REDIS_TIMEOUT_SECONDS * 2))
        except Exception as exc:
            self._went_down(exc)
            return False
        if ok:
            self._came_back()
        return ok

    async def close(self) -> None:
        await self.redis.aclose()


def create_limiter(limit: int, redis_url: str | None, prefix: str = "taskyard:rl") -> RateLimiter:
    if redis_url:
        return RedisRateLimiter(limit, redis_url, prefix)
    return MemoryRateLimiter(limit)
