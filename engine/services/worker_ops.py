"""A worker's operations port (``TASKYARD_WORKER_METRICS_PORT``): ``/metrics``, ``/livez``
and ``/readyz``.

``/metrics`` is the Temporal SDK's own metrics (pollers, task latencies, slots; served by
the SDK's core on a private loopback port and passed through) followed by Taskyard's
(``engine.models.metrics``, the process's ``prometheus_client`` registry). ``/livez``
answers while the process runs; ``/readyz`` is 200 while every worker of the process is
running (its pollers started and not shut down), 503 otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

SDK_SCRAPE_TIMEOUT = 5.0


class WorkerOpsServer:
    def __init__(
        self, host: str, port: int, *, ready: Callable[[], bool], sdk_metrics_url: str | None
    ) -> None:
        self.host = host
        self.port = port
        self.ready = ready
        self.sdk_metrics_url = sdk_metrics_url
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/livez", self.livez)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # (tests: the port the system chose)
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def livez(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        ready = self.ready()
        body = {"status": "ready" if ready else "not_ready", "checks": {"pollers": ready}}
        return web.Response(
            text=json.dumps(body), status=200 if ready else 503, content_type="application/json"
        )

    async def _sdk_text(self) -> bytes:
        if self.sdk_metrics_url is None:
            return b""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=SDK_SCRAPE_TIMEOUT)
            )
        try:
            async with self._http.get(self.sdk_metrics_url) as response:
                text = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            return b""  # the SDK's part is missing from this scrape; ours is still served
        return text if text.endswith(b"\n") or not text else text + b"\n"

    async def metrics(self, _request: web.Request) -> web.Response:
        body = await self._sdk_text() + generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
