"""Run an ASGI app on loopback inside the running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import uvicorn
from starlette.requests import Request

STARTUP_DEADLINE_SECONDS = 5.0


class _InTestServer(uvicorn.Server):
    """A uvicorn server that leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: Any, *, lifespan: Literal["on", "off"] = "off") -> AsyncIterator[str]:
    """Serve ``app`` on an ephemeral 127.0.0.1 port; yield its base URL (no trailing slash)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
    server = _InTestServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    # Poll with a deadline: uvicorn offers no awaitable "started" signal.
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("fake server stopped during startup")
        if time.monotonic() > deadline:
            task.cancel()
            raise TimeoutError("fake server did not start in time")
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # no wait for idle keep-alive connections
        await task
        # force_exit skips the app's lifespan shutdown: run it here, so the app closes what
        # it opened and its lifespan task ends in this loop. Left pending, that task would
        # be finalized by whichever thread next collects garbage (an SMTP fake's, say),
        # running app code there.
        await asyncio.wait_for(server.lifespan.shutdown(), STARTUP_DEADLINE_SECONDS)
        sock.close()


@dataclass
class Recorded:
    """One request a fake received."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None


async def record(request: Request) -> Recorded:
    """Read ``request`` fully and decode its body as form or JSON when it says so."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    form: dict[str, str] = {}
    parsed_json: Any = None
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    elif "json" in content_type and body:
        parsed_json = json.loads(body)
    return Recorded(
        method=request.method,
        path=request.url.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
        form=form,
        json=parsed_json,
    )
