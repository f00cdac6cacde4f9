"""A client generated from ``/api/v1/openapi`` has the Python SDK reference's names and works.

``openapi-python-client`` (pinned in the test extra) writes a client package from the
served 3.0.3 document into a temporary directory, offline; the test then drives the
leads API family's documented calls through it against the running app.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import Stack, new_user

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "taskyard_generated_client"
SDK_OPERATIONS = {
    "create_api_key",
    "list_api_keys",
    "health_check",
    "create_lead",
    "list_leads",
    "get_lead",
    "update_lead",
    "delete_lead",
}
SDK_SCHEMAS = {"Lead", "CreateLeadRequest", "UpdateLeadRequest", "ApiKey", "CreateApiKeyRequest"}


async def generate(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    async with stack.api() as api:
        r = await api.get("/api/v1/openapi")
    assert r.status_code == 200
    spec = r.json()
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    # No post hooks: the generator would otherwise look for ruff to format the package.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    proc = await asyncio.create_subprocess_exec(
        str(GENERATOR),
        "generate",
        "--path",
        str(tmp_path / "openapi.json"),
        "--config",
        str(tmp_path / "config.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(tmp_path / PACKAGE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=str(tmp_path),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode(errors="replace")[-5000:]
    return spec


def load(tmp_path: Path, name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def generated_path(tmp_path: Path) -> Any:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


async def test_generated_client_has_the_sdk_names_and_drives_leads_and_keys(
    stack: Stack, generated_path: Path
) -> None:
    spec = await generate(stack, generated_path)
    assert spec["openapi"] == "3.0.3"
    operation_ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert operation_ids >= SDK_OPERATIONS
    assert set(spec["components"]["schemas"]) >= SDK_SCHEMAS
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "x-api-key"

    client_mod = load(generated_path, "client")
    models = load(generated_path, "models")
    keys_api = load(generated_path, "api.api_keys.create_api_key")
    list_keys_api = load(generated_path, "api.api_keys.list_api_keys")
    health_api = load(generated_path, "api.health.health_check")
    leads = {
        name: load(generated_path, f"api.leads.{name}")
        for name in ("create_lead", "list_leads", "get_lead", "update_lead", "delete_lead")
    }

    _user, raw_key = await new_user(stack)
    client = client_mod.AuthenticatedClient(
        base_url=stack.base_url, token=raw_key, prefix="", auth_header_name="x-api-key"
    )
    async with client:
        created_key = await keys_api.asyncio(
            client=client,
            body=models.CreateApiKeyRequest(
                name="Integration API Key",
                permissions=[
                    models.CreateApiKeyRequestPermissionsItem("leads:read"),
                    models.CreateApiKeyRequestPermissionsItem("leads:write"),
                ],
                description="For CRM integration",
            ),
        )
        assert isinstance(created_key, models.ApiKey), created_key
        assert created_key.key.startswith("bna_") and created_key.is_active
        assert created_key.permissions == ["leads:read", "leads:write"]

        listed_keys = await list_keys_api.asyncio(client=client)
        assert isinstance(listed_keys, models.ListApiKeysResponse), listed_keys
        assert created_key.id in {k.id for k in listed_keys.data}
        assert listed_keys.total == len(listed_keys.data)

        health = await health_api.asyncio(client=client_mod.Client(base_url=stack.base_url))
        assert isinstance(health, models.HealthCheck200Response), health
        assert health.status in ("healthy", "degraded")

        email = f"john.{uuid.uuid4().hex[:8]}@example.com"
        lead = await leads["create_lead"].asyncio(
            client=client,
            body=models.CreateLeadRequest.from_dict(
                {
                    "first_name": "John",
                    "last_name": "Doe",
                    "email": email,
                    "company": "Example Corp",
                    "phone": "+1-555-123-4567",
                    "tags": ["conference", "engineer"],
                    "custom_fields": {"lead_source": "conference", "priority": "high"},
                }
            ),
        )
        assert isinstance(lead, models.Lead), lead
        assert lead.first_name == "John" and lead.email == email and lead.status == "new"

        page = await leads["list_leads"].asyncio(
            client=client,
            limit=25,
            sort=models.ListLeadsSort("created_at"),
            order=models.ListLeadsOrder("desc"),
        )
        assert isinstance(page, models.ListLeads200Response), page
        assert lead.id in {item.id for item in page.data} and page.limit == 25

        fetched = await leads["get_lead"].asyncio(client=client, id=lead.id)
        assert isinstance(fetched, models.Lead) and fetched.company == "Example Corp"

        updated = await leads["update_lead"].asyncio(
            client=client,
            id=lead.id,
            body=models.UpdateLeadRequest.from_dict(
                {
                    "job_title": "Senior Software Engineer",
                    "status": "contacted",
                    "custom_fields": {"priority": "very_high", "budget": 75000},
                }
            ),
        )
        assert isinstance(updated, models.Lead), updated
        assert updated.status == "contacted" and updated.job_title == "Senior Software Engineer"
        # PUT merges custom fields: the key not sent is kept.
        assert updated.custom_fields.to_dict() == {
            "lead_source": "conference",
            "priority": "very_high",
            "budget": 75000,
        }

        deleted = await leads["delete_lead"].asyncio_detailed(client=client, id=lead.id)
        assert deleted.status_code == 200
        assert json.loads(deleted.content) == {
            "success": True,
            "message": "Lead deleted successfully",
            "deleted_id": lead.id,
        }
        missing = await leads["get_lead"].asyncio_detailed(client=client, id=lead.id)
        assert missing.status_code == 404
