"""A plain HTTP server for the HTTP connector: echo, status codes, redirects, a slow route."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record


@dataclass
class Target:
    requests: list[Recorded] = field(default_factory=list)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            rec = await record(request)
            self.requests.append(rec)
            return JSONResponse(
                {
                    "method": rec.method,
                    "path": rec.path,
                    "query": rec.query,
                    "headers": rec.headers,
                    "json": rec.json,
                    "body": rec.body.decode(errors="replace"),
                }
            )

        async def sink(request: Request) -> Response:
            """Records the request and answers without echoing anything back."""
            self.requests.append(await record(request))
            return JSONResponse({"ok": True})

        async def status(request: Request) -> Response:
            self.requests.append(await record(request))
            return PlainTextResponse("status", status_code=int(request.path_params["code"]))

        async def redirect(request: Request) -> Response:
            """Records the request and redirects to ``to`` with ``code`` (302 unless given)."""
            self.requests.append(await record(request))
            code = int(request.query_params.get("code", "302"))
            return RedirectResponse(request.query_params["to"], status_code=code)

        async def slow(request: Request) -> Response:
            self.requests.append(await record(request))
            self.slow_started.set()
            await self.release.wait()
            return PlainTextResponse("finally")

        return Starlette(
            routes=[
                Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
                Route("/echo/{rest:path}", echo, methods=["GET", "POST"]),
                Route("/sink", sink, methods=["GET", "POST"]),
                Route("/status/{code:int}", status),
                Route("/redirect", redirect, methods=["GET", "POST", "PUT", "DELETE"]),
                Route("/slow", slow, methods=["GET", "POST"]),
            ]
        )
