"""The API documents' request examples, run as written against the app on embedded defaults.

Each case is a literal example of one API document (bodies, paths and query strings copied
from it), in the order a reader meets them, with the status and the response shape the
document shows, and the document's own error examples. Where an example names a placeholder
id (``lead_123456789``, ``uuid``, ``app_abc``, ``wf_123``, ``exec_456``, ``:userId``,
``:jobId``) the test substitutes the id an earlier step created.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Stack, new_user, wait_for
from tests.integrations.test_sandbox import consent
from tests.linkedin.helpers import connect

LEAD_EXAMPLE = {
    "first_name": "John",
    "last_name": "Doe",
    "email": "john.doe@example.com",
    "company": "Example Corp",
    "phone": "+1-555-123-4567",
    "linkedin_url": "https://linkedin.com/in/johndoe",
    "job_title": "Software Engineer",
    "location": "San Francisco, CA",
    "notes": "Met at tech conference 2024",
    "tags": ["conference", "engineer", "potential"],
    "custom_fields": {"lead_source": "conference", "priority": "high", "budget": 50000},
}
LEAD_UPDATE = {
    "company": "New Company Inc",
    "job_title": "Senior Software Engineer",
    "status": "contacted",
    "tags": ["contacted", "promoted", "hot-lead"],
    "notes": "Promoted to senior role, very interested in our product",
    "custom_fields": {"priority": "very_high", "last_contacted": "2024-06-29", "budget": 75000},
}
EXAMPLE_URL = "https://api.example.com/data"
LOOPBACK = "http://127.0.0.1:9/data"
WORKFLOW_EXAMPLE = {
    "name": "New Workflow",
    "description": "Optional description",
    "definition": {
        "steps": [
            {
                "name": "step1",
                "type": "http_request",
                "config": {"method": "GET", "url": "https://api.example.com/data"},
            }
        ]
    },
    "isPublic": False,
}
CREDENTIAL_EXAMPLE = {
    "name": "Slack Bot Token",
    "description": "Production Slack bot",
    "type": "oauth",
    "provider": "slack",
    "data": {"bot_token": "xoxb-xxxxxxxxxxxxx", "app_id": "A01234567"},
    "metadata": {"scopes": ["chat:write", "channels:read"]},
}
# "uuid" in the example: an end user id of our own.
EXECUTE_EXAMPLE = {
    "toolName": "GMAIL_SEND_EMAIL",
    "params": {"to": "x@y.com", "subject": "Hi", "body": "Hello"},
    "userId": "u1",
}
WEBHOOK_EXAMPLE = {
    "name": "Workflow Completed Hook",
    "url": "https://your-app.com/webhook",
    "events": ["workflow.completed", "workflow.failed"],
    "headers": {"X-Custom-Header": "value"},
    "retryPolicy": {"maxAttempts": 3, "backoffMs": 1000},
}


def has_keys(body: Any, keys: set[str]) -> None:
    assert isinstance(body, dict) and keys <= set(body), (keys, body)


async def test_python_sdk_reference_examples(stack: Stack) -> None:
    """Lead management, API keys and health, as the Python SDK reference runs them."""
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.get(
            "/api/v2/leads", params={"limit": 25, "sort": "created_at", "order": "desc"}
        )
        assert r.status_code == 200
        has_keys(r.json(), {"data", "total", "limit", "offset"})
        r = await api.get("/api/v2/leads", params={"search": "john", "company": "example"})
        assert r.status_code == 200 and isinstance(r.json()["data"], list)

        r = await api.post("/api/v2/leads", json=LEAD_EXAMPLE)
        assert r.status_code == 201, r.text
        lead = r.json()
        has_keys(lead, {"id", "first_name", "last_name", "email", "status", "created_at"})
        # "lead_123456789" in the examples: the lead created above.
        r = await api.get(f"/api/v2/leads/{lead['id']}")
        assert r.status_code == 200 and r.json()["custom_fields"]["priority"] == "high"
        r = await api.put(f"/api/v2/leads/{lead['id']}", json=LEAD_UPDATE)
        assert r.status_code == 200, r.text
        assert r.json()["company"] == "New Company Inc" and r.json()["status"] == "contacted"
        assert r.json()["custom_fields"]["lead_source"] == "conference"
        r = await api.delete(f"/api/v2/leads/{lead['id']}")
        assert r.status_code == 200
        assert r.json() == {
            "success": True,
            "message": "Lead deleted successfully",
            "deleted_id": lead["id"],
        }
        r = await api.get(f"/api/v2/leads/{lead['id']}")
        assert r.status_code == 404

        r = await api.get("/api/v2/keys")
        assert r.status_code == 200
        has_keys(r.json(), {"data", "total"})
        r = await api.post(
            "/api/v2/keys",
            json={
                "name": "Integration API Key",
                "permissions": ["leads:read", "leads:write"],
                "description": "For CRM integration",
            },
        )
        assert r.status_code == 201, r.text
        has_keys(r.json(), {"id", "name", "key", "key_preview", "permissions", "is_active"})

        r = await api.post("/api/v2/leads", json={"first_name": "Jane", "last_name": "Smith"})
        assert r.status_code == 400
        r = await api.post(
            "/api/v2/leads",
            json={"first_name": "Jane", "last_name": "Smith", "email": "jane@example.com"},
        )
        assert r.status_code == 201
    async with stack.api() as api:
        r = await api.get("/api/v2/health")
    assert r.status_code == 200
    has_keys(r.json(), {"status", "timestamp", "version", "services", "response_time"})


async def test_user_jobs_examples(stack: Stack) -> None:
    user_id, key = await new_user(stack, ["users:read", "jobs:read", "jobs:update", "leads:write"])
    await _one_finished_job(stack, key)
    async with stack.api(key) as api:
        queries = ("", "?startDate=1640995200&endDate=1703980800", "?status=completed")
        for query in (*queries, "?status=failed"):
            r = await api.get("/api/v2/users/jobs" + query)
            assert r.status_code == 200, (query, r.text)
            body = r.json()
            has_keys(body, {"userId", "success", "data"})
            has_keys(body["data"], {"jobs", "statistics"})
            has_keys(body["data"]["statistics"], {"total", "pending", "running", "completed"})
        [job] = (await api.get("/api/v2/users/jobs")).json()["data"]["jobs"]
        # The legacy routes, as the document lists them.
        r = await api.get("/api/v2/users/jobs/jobStatus")
        assert r.status_code == 200 and r.json()["data"]["jobs"][0]["id"] == job["id"]
        r = await api.get("/api/v2/users/jobs/jobCounts")
        assert r.status_code == 200 and r.json()["data"]["statistics"]["total"] == 1
        # ":jobId" in the legacy route: the job listed above.
        r = await api.put(
            f"/api/v2/users/jobs/editJobMessage/{job['id']}", json={"message": "Checked by ops"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["message"] == "Checked by ops"
    async with stack.admin as admin:
        r = await admin.get("/api/v2/users/jobs")
        assert r.status_code == 400
        assert r.json()["availableRoute"] == "/api/v2/users/jobs/userJobStatus/:userId"
        # ":userId" in the legacy route: the user created above.
        r = await admin.get(f"/api/v2/users/jobs/userJobStatus/{user_id}")
        assert r.status_code == 200 and r.json()["userId"] == user_id


async def _one_finished_job(stack: Stack, key: str) -> None:
    """A job to list: one lead through the local enrichment provider."""
    async with stack.api(key) as api:
        r = await api.post("/api/v2/leads", json=LEAD_EXAMPLE)
        assert r.status_code == 201, r.text
        r = await api.post("/api/v2/enrichment/batches", json={"leadIds": [r.json()["id"]]})
        assert r.status_code == 202, r.text

        async def finished() -> bool:
            jobs = (await api.get("/api/v2/users/jobs")).json()["data"]["jobs"]
            return bool(jobs) and jobs[0]["status"] == "completed"

        await wait_for(finished, timeout=60, interval=0.1)


async def test_user_integrations_examples(stack: Stack) -> None:
    user_id, key = await new_user(stack, ["users:read", "users:write"])
    async with stack.api(key) as api:
        r = await api.get("/api/v2/users/integrations")
        assert r.status_code == 200
        has_keys(r.json()["data"], {"linkedin", "webhooks", "summary"})
        has_keys(r.json()["data"]["summary"], {"total", "connected", "completionPercentage"})
        # The dashboard example reads setupUrl while LinkedIn is not connected.
        assert r.json()["data"]["linkedin"]["connected"] is False
        assert r.json()["data"]["linkedin"]["setupUrl"].startswith("http")
        r = await api.post(
            "/api/v2/users/integrations/linkedin",
            json={"returnUrl": "https://yourapp.com/linkedin-success"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["userId"] == user_id and r.json()["success"] is True
        has_keys(r.json()["data"], {"authUrl", "state", "expiresAt"})
        r = await api.post("/api/v2/users/integrations/setup-linkedin-integration", json={})
        assert r.status_code == 200, r.text
        has_keys(r.json()["data"], {"authUrl", "state", "expiresAt"})
    # The member consents (the sandbox provider on embedded defaults); then the document's
    # "already connected" error.
    await connect(stack, key)
    async with stack.api(key) as api:
        r = await api.get("/api/v2/users/integrations")
        assert r.json()["data"]["linkedin"]["connected"] is True
        r = await api.post(
            "/api/v2/users/integrations/linkedin",
            json={"returnUrl": "https://yourapp.com/linkedin-success"},
        )
        assert r.status_code == 400 and r.json()["code"] == "LINKEDIN_ALREADY_CONNECTED"
        has_keys(r.json()["details"], {"profileUrl", "connectedAt"})
    _reader, read_only = await new_user(stack, ["users:read"])
    async with stack.api(read_only) as api:
        r = await api.post("/api/v2/users/integrations/linkedin", json={})
        assert r.status_code == 403 and r.json()["code"] == "PERMISSION_DENIED"
        assert r.json()["permissionHelp"]["required"] == "users:write"
    async with stack.admin as admin:
        r = await admin.get("/api/v2/users/integrations")
        assert r.status_code == 400
        route = "/api/v2/users/integrations/linkedin-integration/:userId"
        assert r.json()["availableRoute"] == route
        # ":userId" in the legacy route: the user created above.
        r = await admin.get(f"/api/v2/users/integrations/linkedin-integration/{user_id}")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["linkedin"]["connected"] is True


async def test_workflows_api_examples(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.get("/api/v1/workflows")
        assert r.status_code == 200 and isinstance(r.json(), list)
        r = await api.post("/api/v1/workflows", json=WORKFLOW_EXAMPLE)
        assert r.status_code == 201, r.text
        has_keys(r.json(), {"id", "name", "description", "isPublic", "createdAt", "updatedAt"})
        # The example's step calls api.example.com: the run below uses a copy of it that
        # calls the discard port on loopback instead, so nothing leaves the machine.
        local = json.loads(json.dumps(WORKFLOW_EXAMPLE).replace(EXAMPLE_URL, LOOPBACK))
        r = await api.post("/api/v1/workflows", json=local)
        assert r.status_code == 201, r.text
        workflow = r.json()
        r = await api.post("/api/v1/credentials", json=CREDENTIAL_EXAMPLE)
        assert r.status_code == 201, r.text
        credential = r.json()
        r = await api.get("/api/v1/credentials")
        assert r.status_code == 200 and "data" not in r.json()[0]
        r = await api.post("/api/v1/webhooks", json=WEBHOOK_EXAMPLE)
        assert r.status_code == 201, r.text
        r = await api.get("/api/v1/connectors?available=true")
        assert r.status_code == 200
        has_keys(r.json()[0], {"type", "name", "description", "actions"})
        # "cred_123" in the example: the credential created above.
        r = await api.post(
            "/api/v1/connectors",
            json={
                "name": "Production Slack",
                "type": "slack",
                "credentialId": credential["id"],
                "config": {"defaultChannel": "#general"},
            },
        )
        assert r.status_code == 201, r.text
        # "{id}" / "wf_123" in the examples: the workflow created above.
        r = await api.post(
            f"/api/v1/workflows/{workflow['id']}/execute", json={"input": {"key": "value"}}
        )
        assert r.status_code in (200, 201, 202), r.text
        execution = r.json()
        has_keys(execution, {"executionId", "status", "startedAt"})
        r = await api.get(f"/api/v1/executions/{execution['executionId']}")
        assert r.status_code == 200
        r = await api.post(
            f"/api/v1/executions/{execution['executionId']}", json={"action": "cancel"}
        )
        assert r.status_code in (200, 202, 409), r.text
    async with stack.api() as api:
        r = await api.get("/api/v1/workflows", headers={"Authorization": "Bearer sk_xxx"})
    assert r.status_code == 401 and isinstance(r.json()["error"], str)
    assert "X-RateLimit-Limit" in r.headers


async def test_app_integrations_examples(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        # Apps and their redirect URLs are Taskyard's own (the document starts from an app).
        r = await api.post(
            "/api/v1/apps",
            json={"name": "Example app", "redirectUrls": ["https://yourapp.com/settings"]},
        )
        assert r.status_code == 201, r.text
        app_id = r.json()["appId"]
        # "app_abc" in the examples: the app created above.
        r = await api.get(f"/v1/{app_id}/integrations/available?search=salesforce")
        assert r.status_code == 200 and "integrations" in r.json()
        r = await api.post(
            f"/v1/{app_id}/integrations/configure",
            json={"toolkit": "gmail", "displayName": "Gmail", "scopes": []},
        )
        assert r.status_code in (200, 201), r.text
        # "uuid" in the examples: an end user id of our own.
        r = await api.post(
            f"/v1/{app_id}/integrations/connect",
            json={
                "toolkit": "gmail",
                "redirectUrl": "https://yourapp.com/settings",
                "userId": "u1",
            },
        )
        assert r.status_code == 200, r.text
        has_keys(r.json(), {"authUrl", "connectionRequestId"})
        # The end user's browser: the sandbox consent page, then the callback.
        back = await consent(stack, r.json()["authUrl"])
        assert back.status_code == 302 and "status=ACTIVE" in back.headers["location"]
        r = await api.post(f"/v1/{app_id}/integrations/execute", json=EXECUTE_EXAMPLE)
        assert r.status_code == 200, r.text
        assert r.json()["successful"] is True and "data" in r.json()
        # The rest of the document's endpoint table, in its order.
        r = await api.get(f"/v1/{app_id}/integrations/config")
        assert r.status_code == 200
        assert [i["toolkit"] for i in r.json()["integrations"]] == ["gmail"]
        r = await api.get(f"/v1/{app_id}/integrations/connections", params={"userId": "u1"})
        assert r.status_code == 200, r.text
        [connection] = r.json()["connections"]
        r = await api.get(f"/v1/{app_id}/integrations/tools")
        assert r.status_code == 200
        assert "GMAIL_SEND_EMAIL" in {t["name"] for t in r.json()["tools"]}
        r = await api.delete(f"/v1/{app_id}/integrations/connections/{connection['id']}")
        assert r.status_code == 200 and r.json()["success"] is True
        r = await api.delete(f"/v1/{app_id}/integrations/configure/gmail")
        assert r.status_code == 200 and r.json()["success"] is True
        r = await api.post(f"/v1/{app_id}/integrations/execute", json=EXECUTE_EXAMPLE)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "INTEGRATIONS_TOOLKIT_NOT_ENABLED"


async def test_openapi_document_example(stack: Stack) -> None:
    async with stack.api() as api:
        r = await api.get("/api/v1/openapi")
    assert r.status_code == 200
    assert r.json()["openapi"].startswith("3.0") and r.json()["paths"]
