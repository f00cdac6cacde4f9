"""The generated OpenAPI document, the local docs page, and schemathesis against the live app."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from api.app import ROUTES
from api.openapi import PARAM, walk
from tests.conftest import Stack, new_user

ST = Path(sys.executable).parent / "st"
SCHEMATHESIS_DEADLINE = 100.0


async def test_spec_covers_every_route_with_security_and_scopes(stack: Stack) -> None:
    async with stack.api() as api:
        r = await api.get("/api/v1/openapi")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"] == "3.1.0"
    for path, method, _handler in walk(ROUTES):
        doc_path = PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        assert method.lower() in spec["paths"][doc_path], (method, path)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKeyHeader"] == {
        **schemes["apiKeyHeader"],
        "in": "header",
        "name": "x-api-key",
    }
    assert schemes["bearerApiKey"]["scheme"] == "bearer"
    assert schemes["appJwt"]["bearerFormat"] == "JWT"
    execute = spec["paths"]["/api/v1/workflows/{id}/execute"]["post"]
    assert execute["security"][0] == {"apiKeyHeader": ["workflows:execute"]}
    assert execute["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExecuteBody"
    }
    assert "WorkflowCreate" in spec["components"]["schemas"]
    assert spec["paths"]["/api/v2/health"]["get"]["security"] == []
    listing = spec["paths"]["/api/v1/executions"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"workflowId", "status", "pageToken"}
    ops = [op for item in spec["paths"].values() for op in item.values()]
    assert len({op["operationId"] for op in ops}) == len(ops)


async def test_docs_page_is_served_with_local_assets(stack: Stack) -> None:
    async with stack.api() as api:
        page = await api.get("/docs")
        script = await api.get("/docs/init.js")
        bundle = await api.get("/docs/assets/swagger-ui-bundle.js")
        css = await api.get("/docs/assets/swagger-ui.css")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/docs/assets/swagger-ui-bundle.js" in page.text and "https://" not in page.text
    assert "/api/v1/openapi" in script.text
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert css.status_code == 200


@pytest.mark.slow
async def test_schemathesis_finds_no_server_errors_and_responses_conform(
    stack: Stack, tmp_path: Path
) -> None:
    _user, key = await new_user(stack)
    args = [
        str(ST),
        "run",
        stack.base_url + "/api/v1/openapi",
        "--header",
        f"x-api-key: {key}",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        "5",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        # A slow answer to generated input is a finding too (a stall one tenant can cause).
        "--max-response-time",
        "2",
        "--seed",
        "4",
        "--generation-database",
        "none",
        "--no-color",
    ]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "SCHEMATHESIS_HOOKS"},
        cwd=str(tmp_path),
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), SCHEMATHESIS_DEADLINE)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[:20000]
    assert "Tested:" in text and "failures" not in text.splitlines()[-1], text[-3000:]
