"""A local webhook receiver: records every request, answers from a per-path script."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

Answer = int | tuple[int, dict[str, str]]


@dataclass
class Receiver:
    """``script[path]`` answers are used in order; then ``default[path]`` (200 if unset).
    ``delay[path]`` seconds pass before answering; ``arrivals`` are monotonic receipt times."""

    requests: list[Recorded] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    delay: dict[str, float] = field(default_factory=dict)
    script: dict[str, list[Answer]] = field(default_factory=dict)
    default: dict[str, Answer] = field(default_factory=dict)
    base_url: str = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def at(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            rec = await record(request)
            self.requests.append(rec)
            self.arrivals.append(time.monotonic())
            if rec.path in self.delay:
                await asyncio.sleep(self.delay[rec.path])
            queued = self.script.get(rec.path)
            answer = queued.pop(0) if queued else self.default.get(rec.path, 200)
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            return PlainTextResponse(f"answer {status}", status_code=status, headers=headers)

        return Starlette(routes=[Route("/{path:path}", hook, methods=["POST", "GET"])])
