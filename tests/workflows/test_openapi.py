"""The generated OpenAPI document, the local docs page, and schemathesis against the live app."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from temporalio.testing import WorkflowEnvironment

from api.app import ROUTES
from api.openapi import PARAM, walk
from api.openapi30 import convert_schema
from settings import Settings
from tests.conftest import ADMIN_KEY, Stack, make_settings, new_user, run_stack

ST = Path(sys.executable).parent / "st"
ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS_DEADLINE = 240.0


async def test_spec_covers_every_route_with_security_and_scopes(stack: Stack) -> None:
    async with stack.api() as api:
        r = await api.get("/api/v1/openapi", params={"version": "3.1"})
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"] == "3.1.0"
    for path, method, _handler in walk(ROUTES):
        doc_path = PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        assert method.lower() in spec["paths"][doc_path], (method, path)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {
        **schemes["ApiKeyAuth"],
        "in": "header",
        "name": "x-api-key",
    }
    assert schemes["bearerApiKey"]["scheme"] == "bearer"
    assert schemes["appJwt"]["bearerFormat"] == "JWT"
    execute = spec["paths"]["/api/v1/workflows/{id}/execute"]["post"]
    assert execute["security"][0] == {"ApiKeyAuth": ["workflows:execute"]}
    assert execute["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExecuteBody"
    }
    assert "WorkflowCreate" in spec["components"]["schemas"]
    assert spec["paths"]["/api/v2/health"]["get"]["security"] == []
    listing = spec["paths"]["/api/v1/executions"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"workflowId", "status", "pageToken"}
    ops = [op for item in spec["paths"].values() for op in item.values()]
    assert len({op["operationId"] for op in ops}) == len(ops)


def refs_of(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for sub in value.values():
            yield from refs_of(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from refs_of(sub)


def keywords_of(value: Any) -> Iterator[str]:
    """Every keyword of every schema below ``value`` (not the names of properties)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield key
            if key == "properties" and isinstance(sub, dict):
                for prop in sub.values():
                    yield from keywords_of(prop)
            else:
                yield from keywords_of(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from keywords_of(sub)


async def test_default_document_is_openapi_303_and_both_versions_validate(stack: Stack) -> None:
    async with stack.api() as api:
        default = (await api.get("/api/v1/openapi")).json()
        v30 = (await api.get("/api/v1/openapi", params={"version": "3.0"})).json()
        v31 = (await api.get("/api/v1/openapi", params={"version": "3.1"})).json()
        bad = await api.get("/api/v1/openapi", params={"version": "2.0"})
    assert default == v30 and default["openapi"] == "3.0.3" and v31["openapi"] == "3.1.0"
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_QUERY"
    validate(v30)
    validate(v31)
    for spec, prefix in ((v30, "#/components/schemas/"), (v31, "#/components/schemas/")):
        schemas = spec["components"]["schemas"]
        for ref in refs_of(spec):
            assert ref.startswith(prefix) and ref[len(prefix) :] in schemas, ref
    # Nothing of JSON Schema 2020-12 is left in the 3.0 schemas.
    schemas30 = json.dumps(v30["components"]["schemas"])
    for keyword in ('"const"', '"examples"', '"prefixItems"', '"$defs"', '"type": "null"'):
        assert keyword not in schemas30, keyword
    lead = v30["components"]["schemas"]["Lead"]["properties"]
    assert lead["company"] == {
        "type": "string",
        "nullable": True,
        "title": "Company",
        "default": None,
    }
    assert lead["tags"]["type"] == "array"
    execute = v30["paths"]["/api/v1/workflows/{id}/execute"]["post"]
    # 3.0 allows scopes only on OAuth schemes; the scope stays in x-required-scope.
    assert execute["security"][0] == {"ApiKeyAuth": []}
    assert execute["x-required-scope"] == "workflows:execute"
    keys = {k for schema in v30["components"]["schemas"].values() for k in keywords_of(schema)}
    assert not keys & {"propertyNames", "patternProperties", "if", "then", "dependentRequired"}


def test_conversion_rules_for_30() -> None:
    assert convert_schema(
        {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}], "default": None}
    ) == {"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": True, "default": None}
    assert convert_schema(
        {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}
    ) == {
        "anyOf": [{"type": "string"}, {"type": "integer"}],
        "nullable": True,
    }
    assert convert_schema({"type": ["boolean", "string"]}) == {
        "anyOf": [{"type": "boolean"}, {"type": "string"}]
    }
    assert convert_schema({"type": ["string", "null"]}) == {"type": "string", "nullable": True}
    assert convert_schema({"const": "cancel", "type": "string"}) == {
        "enum": ["cancel"],
        "type": "string",
    }
    assert convert_schema({"type": "integer", "examples": [3, 4]}) == {
        "type": "integer",
        "example": 3,
    }
    assert convert_schema({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 9}) == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 9,
        "exclusiveMaximum": True,
    }
    pair = convert_schema(
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    )
    assert pair["items"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert pair["minItems"] == 2 and pair["maxItems"] == 2
    assert convert_schema({"type": "object", "propertyNames": {"pattern": "^a"}}) == {
        "type": "object",
        "x-propertyNames": {"pattern": "^a"},
    }
    assert convert_schema({"$ref": "#/components/schemas/A", "description": "d"}) == {
        "allOf": [{"$ref": "#/components/schemas/A"}],
        "description": "d",
    }


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


# Generated valid data must be accepted, or refused only for the state it meets: an id that
# does not exist (404) or a conflict with what is stored (409). Anything else (400, 422 on a
# schema-valid request) means the document is looser than the API.
POSITIVE_STATUSES = ["2xx", "3xx", "404", "409"]
# Operations whose documents make a state refusal something other than 404/409:
# the app-integrations API answers 400 for a toolkit the app has not enabled (or the platform
# has not configured) and 422/502 for a tool run that failed at the vendor; the tools API and
# connector actions answer 422/502 for a failed run as well (the request itself was accepted).
STATE_STATUSES = {
    "disable": ["400"],
    "configure": ["400"],
    "connect": ["400"],
    "list_tools": ["400"],
    "execute": ["400", "422", "502"],
    "execute_tool": ["422", "502"],
    "run_action": ["422", "502"],
    # The user-integrations API answers 400 LINKEDIN_NOT_CONNECTED to an unconnected user.
    "schedule_action": ["400"],
    "schedule_bulk": ["400"],
    # OAuth redirect targets: a state the server did not issue (or that expired) is a 400.
    "linkedin_callback": ["400"],
    "sandbox_authorize": ["400"],
    "integrations_sandbox_authorize": ["400"],
    "linkedin_setup_link": ["400"],
    "callback": ["400"],
    "linkedin_start": ["400"],
    "integrations_start": ["400"],
    "linkedin_automation_notify": ["400"],
    # Only an operator's global key may name the automation account; the fuzzer's key is
    # a user key (422 AUTOMATION_ACCOUNT_FROM_PROVIDER).
    "legacy_setup_linkedin": ["422"],
    # The workflows API answers 422 when a definition's credentialId or connectorId is not
    # one of the caller's own.
    "create_workflow": ["422"],
    "update_workflow": ["422"],
    "execute_workflow": ["422"],
    "create_schedule": ["422", "403"],  # 403: firing more often than the operator allows
    # Operators' routes: a global key only (the fuzzer holds a user key).
    "patch_user": ["403"],
    "user_quotas": ["403"],
    # retry fromStep must name a step of that execution (422 UNKNOWN_STEP).
    "act_on_execution": ["422"],
    # A wait's days + hours + minutes must add up to more than zero (a sum no schema can
    # state), and a branch's goto must name a later step of the same campaign.
    "create_campaign": ["422"],
    "update_campaign": ["422"],
    # Sandbox events need the caller's LinkedIn to be a connected sandbox account
    # (400 LINKEDIN_NOT_SANDBOX); the fuzzer's user has none.
    "fire_sandbox_event": ["400"],
}
# Not fuzzed: revoking a key found in the key list revokes the fuzzer's own key.
SKIPPED_OPERATIONS = ("revoke_key",)


def schemathesis_config(user_key: str) -> str:
    """schemathesis.toml: the user key for every call, the admin (global) key for the
    operations only a global key may call, and the statuses valid data may get."""
    lines = [
        f'headers = {{ "x-api-key" = "{user_key}" }}',
        "",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(POSITIVE_STATUSES)}",
    ]
    for op_id in GLOBAL_KEY_OPERATIONS:
        lines += [
            "",
            "[[operations]]",
            f'include-operation-id = "{op_id}"',
            f'headers = {{ "x-api-key" = "{ADMIN_KEY}" }}',
        ]
    for op_id in SKIPPED_OPERATIONS:
        lines += ["", "[[operations]]", f'include-operation-id = "{op_id}"', "enabled = false"]
    for op_id, extra in STATE_STATUSES.items():
        lines += [
            "",
            "[[operations]]",
            f'include-operation-id = "{op_id}"',
            "checks.positive_data_acceptance.expected-statuses = "
            + json.dumps(POSITIVE_STATUSES + extra),
        ]
    return "\n".join(lines) + "\n"


GLOBAL_KEY_OPERATIONS = ("create_user",)


@pytest.fixture
async def fuzz_stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """A stack of its own whose every vendor URL is the discard port on loopback: valid data
    reaches connectors now, and nothing the fuzzer makes may leave the machine."""
    state = tmp_path_factory.mktemp("fuzz")
    vendors = {
        name: "http://127.0.0.1:9/"
        for name, field in Settings.model_fields.items()
        if isinstance(field.default, str) and field.default.startswith(("http://", "https://"))
    }
    settings = make_settings(temporal_env, f"sqlite:///{state / 'taskyard.db'}", state, **vendors)
    async with run_stack(temporal_env, settings) as running:
        yield running


@pytest.mark.slow
async def test_schemathesis_finds_no_server_errors_and_responses_conform(
    fuzz_stack: Stack, tmp_path: Path
) -> None:
    stack = fuzz_stack
    _user, key = await new_user(stack)
    config = tmp_path / "schemathesis.toml"
    config.write_text(schemathesis_config(key))
    args = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        stack.base_url + "/api/v1/openapi",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,positive_data_acceptance",
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
    env = {k: v for k, v in os.environ.items() if k != "SCHEMATHESIS_HOOKS"}
    # Value generators for the formats the document names beyond JSON Schema's own.
    env["SCHEMATHESIS_HOOKS"] = "tests.workflows.schemathesis_hooks"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
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
