"""``GET /api/v1/openapi`` (the generated OpenAPI document) and ``GET /docs`` (Swagger UI).

The document is OpenAPI 3.0.3 by default (what the workflows API document promises, and
what 3.0-only importers and generators read); ``?version=3.1`` gives the OpenAPI 3.1
original, whose schemas are JSON Schema 2020-12 and so state a few constraints 3.0 can
only carry as ``x-`` notes. Each is built once per app from its own routes
(``api.openapi``, ``api.openapi30``). The
docs page is Swagger UI served from the ``swagger-ui-py`` package's bundled
assets — no CDN — and needs no key; "Authorize" takes an API key.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api.errors import BadRequest
from api.openapi import build_spec
from api.openapi30 import to_openapi30
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


VERSIONS = ("3.0", "3.0.3", "3.1", "3.1.0")


class SpecQuery(BaseModel):
    version: Literal["3.0", "3.0.3", "3.1", "3.1.0"] = Field(
        default="3.0.3", description="OpenAPI version of the document: 3.0.3 (default) or 3.1"
    )


@operation(
    "The OpenAPI document of this API (3.0.3; ?version=3.1 for 3.1)",
    tag=TAG,
    query=SpecQuery,
    responses={200: None, 400: None},
    description="Generated from the routes and the pydantic models they validate with.",
)
async def openapi(request: Request) -> JSONResponse:
    version = request.query_params.get("version", "3.0.3")
    if version not in VERSIONS:
        raise BadRequest("version must be 3.0 (3.0.3, the default) or 3.1", code="INVALID_QUERY")
    state = request.app.state
    specs: dict[str, dict[str, Any]] | None = getattr(state, "openapi", None)
    if specs is None:
        full = build_spec(request.app.routes, server_url=None)
        specs = {"3.1": full, "3.0": to_openapi30(full)}
        state.openapi = specs
    return JSONResponse(specs[version[:3]])


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
