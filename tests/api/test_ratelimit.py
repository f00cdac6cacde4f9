"""Per-key rate limits: headers on every response, 429 with Retry-After, shared through Redis."""

from __future__ import annotations

import uuid

import pytest

from api.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.conftest import REDIS_URL, make_settings, new_user, run_stack


def _limiters() -> list[str]:
    return ["memory", "redis"] if REDIS_URL else ["memory"]


@pytest.mark.parametrize("backend", _limiters())
async def test_limit_headers_and_429(
    backend: str, temporal_env, database_url: str, tmp_path
) -> None:
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path,
        rate_limit_per_minute=5,
        redis_url=REDIS_URL if backend == "redis" else None,
        task_queue_prefix="rl" + uuid.uuid4().hex[:8],
    )
    async with run_stack(temporal_env, settings, with_worker=False) as limited:
        _user, key = await new_user(limited)  # the admin's two calls count for the admin key
        _other, other_key = await new_user(limited)
        async with limited.api(key) as api:
            seen = []
            for _ in range(5):
                r = await api.get("/api/v2/keys")
                assert r.status_code == 200
                seen.append(int(r.headers["X-RateLimit-Remaining"]))
                assert r.headers["X-RateLimit-Limit"] == "5"
                assert int(r.headers["X-RateLimit-Reset"]) > 0
            assert seen == [4, 3, 2, 1, 0] or seen[-1] == 0  # a window may roll over mid-test
            refused = await api.get("/api/v2/keys")
            if refused.status_code == 200:  # the minute rolled over; use the fresh window
                for _ in range(5):
                    refused = await api.get("/api/v2/keys")
            assert refused.status_code == 429
            assert refused.json()["code"] == "RATE_LIMIT_EXCEEDED"
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert refused.headers["X-RateLimit-Remaining"] == "0"
        async with limited.api(other_key) as api:
            assert (await api.get("/api/v2/keys")).status_code == 200  # per key, not global


async def test_memory_limiter_windows() -> None:
    limiter = MemoryRateLimiter(2)
    a = [await limiter.hit("k") for _ in range(3)]
    assert [d.allowed for d in a] == [True, True, False] or a[2].reset != a[0].reset
    assert (await limiter.hit("other")).allowed


@pytest.mark.skipif(not REDIS_URL, reason="TASKYARD_TEST_REDIS_URL not set")
async def test_redis_limiter_is_shared_between_processes() -> None:
    assert REDIS_URL
    prefix = "taskyard:test:" + uuid.uuid4().hex
    first = RedisRateLimiter(3, REDIS_URL, prefix=prefix)
    second = RedisRateLimiter(3, REDIS_URL, prefix=prefix)
    try:
        results = [
            await first.hit("key"),
            await second.hit("key"),
            await first.hit("key"),
            await second.hit("key"),
        ]
        allowed = [d.allowed for d in results]
        # Four hits across two limiters share one budget of three (barring a window edge).
        assert allowed == [True, True, True, False] or results[3].reset != results[0].reset
        assert await first.ping()
    finally:
        await first.close()
        await second.close()


async def test_a_refused_key_gets_the_limit_headers_too(stack) -> None:
    """The workflows API document: the X-RateLimit-* headers are in every response."""
    async with stack.api("bna_" + "00" * 32) as api:
        r = await api.get("/api/v1/workflows")
    assert r.status_code == 401
    assert r.headers["X-RateLimit-Limit"] == str(stack.settings.rate_limit_per_minute)
    assert int(r.headers["X-RateLimit-Remaining"]) >= 0
    assert int(r.headers["X-RateLimit-Reset"]) > 0
