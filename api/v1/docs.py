"""``GET /api/v1/openapi`` (the generated OpenAPI 3.1 document) and ``GET /docs`` (Swagger UI).

The document is built once per app from its own routes (``api.openapi``). The
docs page is Swagger UI served from the ``swagger-ui-py`` package's bundled
assets — no CDN — and needs no key; "Authorize" takes an API key.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api.openapi import build_spec
from api.spec import operation

TAG = "Docs"
SPEC_URL = "/api/v1/openapi"
ASSETS = "/docs/assets"


def assets_dir() -> Path:
    """Swagger UI's files inside the installed package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Taskyard API</title>
  <link rel="icon" href="{ASSETS}/favicon-32x32.png">
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""
INIT = f"""window.ui = SwaggerUIBundle({{
  url: "{SPEC_URL}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
}});
"""


@operation(
    "The OpenAPI 3.1 document of this API",
    tag=TAG,
    description="Generated from the routes and the pydantic models they validate with.",
)
async def openapi(request: Request) -> JSONResponse:
    state = request.app.state
    spec: dict[str, Any] | None = getattr(state, "openapi", None)
    if spec is None:
        spec = build_spec(request.app.routes, server_url=None)
        state.openapi = spec
    return JSONResponse(spec)


@operation("Interactive API docs (Swagger UI)", tag=TAG, responses={200: None})
async def docs_page(_request: Request) -> Response:
    return HTMLResponse(PAGE)


@operation("Swagger UI start-up script for the docs page", tag=TAG, responses={200: None})
async def docs_init(_request: Request) -> Response:
    return Response(INIT, media_type="text/javascript")


routes: list[BaseRoute] = [
    Route(SPEC_URL, openapi, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
    Route("/docs/init.js", docs_init, methods=["GET"]),
    Mount(ASSETS, app=StaticFiles(directory=str(assets_dir())), name="docs-assets"),
]
