"""A loopback HTTP server for workflow steps: echo with hit counts, barriers, held requests.

``/barrier/{group}/{n}`` answers only once ``n`` requests of the group are in
flight together (or 504 after a deadline), so a test can prove that steps
overlapped in time; ``/hold/{key}`` waits until the test releases the key.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import record

BARRIER_DEADLINE = 10.0


@dataclass
class StepTarget:
    base_url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    headers: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    spans: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    arrived: dict[str, int] = field(default_factory=Counter)
    gates: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    holds: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    held: Counter[str] = field(default_factory=Counter)

    def url(self, path: str) -> str:
        return self.base_url + path

    def release(self, key: str) -> None:
        self.holds[key].set()

    def release_all(self) -> None:
        for event in list(self.holds.values()) + list(self.gates.values()):
            event.set()

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            rec = await record(request)
            key = request.path_params.get("key", "echo")
            self.hits[key] += 1
            self.bodies[key].append(rec.json)
            self.headers[key].append(rec.headers)
            if "quiet" in rec.query:  # (answers without repeating what it was sent)
                return JSONResponse({"key": key, "hit": self.hits[key]})
            return JSONResponse(
                {
                    "key": key,
                    "hit": self.hits[key],
                    "query": rec.query,
                    "json": rec.json,
                    "method": rec.method,
                    "nested": {"id": f"id-{key}", "items": [{"n": 1}, {"n": 2}]},
                }
            )

        async def big(request: Request) -> Response:
            size = int(request.path_params["kb"]) * 1024
            self.hits["big"] += 1
            return JSONResponse({"id": "big-1", "blob": "x" * size, "items": [{"id": "first"}]})

        async def barrier(request: Request) -> Response:
            group, n = request.path_params["group"], int(request.path_params["n"])
            started = time.monotonic()
            self.hits[group] += 1
            self.arrived[group] += 1
            if self.arrived[group] >= n:
                self.gates[group].set()
            try:
                await asyncio.wait_for(self.gates[group].wait(), BARRIER_DEADLINE)
            except TimeoutError:
                return JSONResponse({"together": False}, status_code=504)
            self.spans[group].append((started, time.monotonic()))
            return JSONResponse({"together": True})

        async def hold(request: Request) -> Response:
            key = request.path_params["key"]
            self.hits[key] += 1
            self.held[key] += 1
            await self.holds[key].wait()
            return JSONResponse({"released": key})

        return Starlette(
            routes=[
                Route("/echo/{key}", echo, methods=["GET", "POST", "PUT"]),
                Route("/big/{kb:int}", big, methods=["GET"]),
                Route("/barrier/{group}/{n:int}", barrier, methods=["GET", "POST"]),
                Route("/hold/{key}", hold, methods=["GET", "POST"]),
            ]
        )
