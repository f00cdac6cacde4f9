"""Request bodies are limited before anything buffers them: a declared size over the route's
limit is refused at once, a chunked body the moment it passes it, 413 in each API family's
shape, and the lead import has its own, larger limit."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import Stack, new_user

LIMIT = 2 * 1024 * 1024


async def test_declared_size_over_the_limit_is_413_in_each_family(stack: Stack) -> None:
    _user, key = await new_user(stack)
    big = b"{" + b" " * (LIMIT + 10) + b"}"
    async with stack.api(key) as api:
        for path, shape in (
            ("/api/v1/tools/execute", "v1"),
            ("/api/v2/leads", "v2"),
            ("/v1/app_x/integrations/execute", "app"),
        ):
            began = time.perf_counter()
            r = await api.post(path, content=big, headers={"content-type": "application/json"})
            assert r.status_code == 413, (path, r.text[:200])
            assert time.perf_counter() - began < 1.0
            body = r.json()
            if shape == "v1":
                assert body["code"] == "PAYLOAD_TOO_LARGE" and isinstance(body["error"], str)
            elif shape == "v2":
                assert body["error"] is True and body["code"] == "PAYLOAD_TOO_LARGE"
            else:
                assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
            assert "X-RateLimit-Limit" in r.headers


async def test_a_chunked_body_is_cut_off_at_the_limit(stack: Stack) -> None:
    """The body never ends; the answer comes once the limit is passed, while the API keeps
    answering others."""
    _user, key = await new_user(stack)
    url = httpx.URL(stack.base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        b"POST /api/v1/tools/execute HTTP/1.1\r\n"
        + f"Host: {url.host}\r\nx-api-key: {key}\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 65536
    try:
        async with stack.api() as probe:
            for _ in range(LIMIT // len(chunk) + 2):
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            began = time.perf_counter()
            health = await probe.get("/api/v2/health")
            assert health.status_code == 200 and time.perf_counter() - began < 1.0
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert b" 413 " in status_line, status_line
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert b"x-ratelimit-limit" in head.lower()
    finally:
        writer.close()


async def test_the_lead_import_takes_a_larger_body(stack: Stack) -> None:
    _user, key = await new_user(stack)
    rows = "first_name,last_name,email\n" + "".join(
        f"Ann{i},Lee,ann{i}@example.com\n" for i in range(80_000)
    )
    assert len(rows) > LIMIT
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/leads/import", content=rows.encode(), headers={"content-type": "text/csv"}
        )
    assert r.status_code == 202, r.text[:300]
