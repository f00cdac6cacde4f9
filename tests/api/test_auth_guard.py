"""The key cache never re-admits a revoked key; addresses guessing keys are cut off before
a database lookup; several API processes need Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

import server
from api import middleware
from api.auth import AuthCache, Principal
from api.ratelimit import WINDOW_SECONDS, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from settings import Settings
from tests.conftest import REDIS_URL, Stack, make_settings, new_user, run_stack

ROOT = Path(__file__).resolve().parents[2]


def test_cache_ignores_a_lookup_that_started_before_a_revocation() -> None:
    cache = AuthCache(60.0)
    principal = Principal(key_id="key_1", user_id="u1", permissions=("*",))
    generation = cache.generation  # a lookup starts and reads the key, still active
    cache.forget_keys(["key_1"])  # the revocation commits meanwhile
    cache.put("bna_raw", principal, None, generation=generation)
    assert cache.get("bna_raw") is None
    cache.put("bna_raw", principal, None, generation=cache.generation)  # a fresh lookup
    assert cache.get("bna_raw") == principal
    cache.forget_keys(["key_other"])
    assert cache.get("bna_raw") == principal  # only the revoked keys are dropped
    cache.forget_keys(["key_1"])
    assert cache.get("bna_raw") is None


async def test_a_key_revoked_during_its_lookup_is_refused_next(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, key = await new_user(stack, ["api_keys:read"])
    async with stack.admin as admin:
        (key_id,) = [
            k["id"]
            for k in (await admin.get("/api/v2/keys", params={"userId": user_id})).json()["data"]
        ]
    looked_up, release = asyncio.Event(), asyncio.Event()
    real_resolve = middleware.resolve

    async def resolve_then_hold(db, raw):  # type: ignore[no-untyped-def]
        found = await real_resolve(db, raw)
        if raw == key and not release.is_set():
            looked_up.set()  # read while active; the revocation lands before it is cached
            await release.wait()
        return found

    monkeypatch.setattr(middleware, "resolve", resolve_then_hold)
    async with stack.api(key) as api, stack.admin as admin:
        in_flight = asyncio.create_task(api.get("/api/v2/keys"))
        await asyncio.wait_for(looked_up.wait(), timeout=20)
        revoked = await admin.delete(f"/api/v2/keys/{key_id}")
        assert revoked.status_code == 200
        release.set()
        assert (await in_flight).status_code == 200  # it was authenticated before
        after = await api.get("/api/v2/keys")
    assert after.status_code == 401 and after.json()["code"] == "INVALID_API_KEY"


def _limiters() -> list[str]:
    return ["memory", "redis"] if REDIS_URL else ["memory"]


@pytest.mark.parametrize("backend", _limiters())
async def test_limiter_peek_does_not_count(backend: str) -> None:
    limiter: RateLimiter = (
        RedisRateLimiter(2, REDIS_URL, prefix="taskyard:test:" + uuid.uuid4().hex)
        if backend == "redis" and REDIS_URL
        else MemoryRateLimiter(2)
    )
    try:
        for _attempt in range(2):  # a minute boundary in the middle: try once more
            window = int(time.time() // WINDOW_SECONDS)
            identity = uuid.uuid4().hex
            fresh = await limiter.peek(identity)
            await limiter.hit(identity)
            once = await limiter.peek(identity)
            await limiter.hit(identity)
            full = await limiter.peek(identity)
            if int(time.time() // WINDOW_SECONDS) == window:
                break
        assert fresh.allowed and fresh.remaining == 2
        assert once.allowed and once.remaining == 1  # peeking took nothing
        assert not full.allowed and "Retry-After" in full.headers()
    finally:
        await limiter.close()


async def test_an_address_guessing_keys_gets_429_without_lookups(
    temporal_env, database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path,
        invalid_key_attempts_per_minute=3,
        task_queue_prefix="bk" + uuid.uuid4().hex[:8],
    )
    async with run_stack(temporal_env, settings, with_worker=False) as guarded:
        _user, good = await new_user(guarded, ["api_keys:read"])
        lookups: list[str] = []
        real_resolve = middleware.resolve

        async def counting(db, raw):  # type: ignore[no-untyped-def]
            lookups.append(raw)
            return await real_resolve(db, raw)

        monkeypatch.setattr(middleware, "resolve", counting)
        async with guarded.api() as api:
            # Three invalid keys per window are answered 401; the fourth is 429. A minute
            # boundary in the middle starts the count again, so allow one more round.
            for _attempt in range(2):
                window = int(time.time() // WINDOW_SECONDS)
                statuses = []
                for i in range(4):
                    r = await api.get("/api/v2/keys", headers={"x-api-key": f"bna_guess{i}"})
                    statuses.append(r.status_code)
                before = len(lookups)
                again = await api.get("/api/v2/keys", headers={"x-api-key": good})
                v1 = await api.post(
                    "/api/v1/tools/execute", json={}, headers={"x-api-key": "bna_guess"}
                )
                if int(time.time() // WINDOW_SECONDS) == window:
                    break
            assert statuses == [401, 401, 401, 429]
            body = r.json()
            assert body["error"] is True and body["version"] == "2.0"
            assert body["code"] == "TOO_MANY_INVALID_KEYS" and "3 per minute" in body["message"]
            assert 1 <= int(r.headers["Retry-After"]) <= WINDOW_SECONDS
            # Refused before any lookup, even a good key not in the cache yet.
            assert again.status_code == 429 and len(lookups) == before
            assert v1.status_code == 429 and v1.json()["code"] == "TOO_MANY_INVALID_KEYS"
            assert isinstance(v1.json()["error"], str)  # the /api/v1 family's shape
            assert (await api.get("/api/v2/health")).status_code == 200  # no key: not guarded
        # Another address is not affected.
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=guarded.base_url, transport=transport) as other:
            r = await other.get("/api/v2/keys", headers={"x-api-key": good})
        assert r.status_code == 200


def test_workers_need_redis_or_an_explicit_override() -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, environment="test", **values)  # type: ignore[call-arg]

    assert server.check_workers(settings(), 1) is None
    assert server.check_workers(settings(redis_url="redis://127.0.0.1:6379/0"), 4) is None
    with pytest.raises(SystemExit, match="TASKYARD_REDIS_URL"):
        server.check_workers(settings(), 2)
    warning = server.check_workers(settings(allow_workers_without_redis=True), 2)
    assert warning is not None and "per process" in warning


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKYARD_")}
    env.update(
        TASKYARD_STATE_DIR=str(tmp_path),
        TASKYARD_MASTER_KEYS="t:" + "A" * 43 + "=",
        TASKYARD_API_PORT=str(_free_port()),
    )
    process = subprocess.Popen(
        [sys.executable, "server.py", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so a server that did start is stopped with its workers
    )
    try:
        _out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError("server.py started several workers without Redis") from None
    assert process.returncode != 0
    assert b"TASKYARD_REDIS_URL" in err and b"TASKYARD_ALLOW_WORKERS_WITHOUT_REDIS" in err
