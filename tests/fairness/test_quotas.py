"""Per-user quotas through the API: the operator's overrides, and each quota's 4xx in its
family's error shape (``QUOTA_EXCEEDED`` naming the quota, its limit and the current use)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from api.errors import error_body, from_domain
from store.errors import QuotaError
from tests.conftest import Stack, make_settings, new_user, run_stack, wait_for
from tests.fairness.conftest import set_limits
from tests.workflows.helpers import create_workflow, http_step
from tests.workflows.server import StepTarget


def quota_of(response: httpx.Response, family: str = "v1") -> dict[str, Any]:
    """The details of a QUOTA_EXCEEDED answer, after checking its family's shape."""
    body = response.json()
    if family == "v2":
        assert body["error"] is True and body["code"] == "QUOTA_EXCEEDED", body
        assert body["version"] == "2.0" and body["message"].startswith("Quota exceeded")
        details: dict[str, Any] = body["details"]
    else:
        assert body["code"] == "QUOTA_EXCEEDED" and "Quota exceeded" in body["error"], body
        details = body["details"]
    return details


async def test_operators_set_weights_and_quotas_per_user(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    async with stack.api(key) as api:  # a user key cannot change its own share
        denied = await api.patch(f"/api/v2/users/{user_id}", json={"fairnessWeight": 50})
    unknown = await set_limits(stack, user_id, quotas={"parallelUniverses": 3})
    negative = await set_limits(stack, user_id, quotas={"schedules": -1})
    zero_weight = await set_limits(stack, user_id, fairnessWeight=0)
    missing = await set_limits(stack, "nobody", fairnessWeight=2)
    changed = await set_limits(
        stack, user_id, fairnessWeight=4, quotas={"schedules": 3, "runningWorkflowRuns": 20}
    )
    partly = await set_limits(stack, user_id, quotas={"schedules": None})
    async with stack.admin as admin:
        shown = await admin.get(f"/api/v2/users/{user_id}/quotas")
    cleared = await set_limits(stack, user_id, fairnessWeight=None)
    assert denied.status_code == 403 and denied.json()["code"] == "PERMISSION_DENIED"
    assert unknown.status_code == 422 and unknown.json()["code"] == "INVALID_QUOTAS"
    assert negative.status_code == 422 and zero_weight.status_code == 422
    assert missing.status_code == 404 and missing.json()["code"] == "USER_NOT_FOUND"
    data = changed.json()["data"]
    assert data["fairnessWeight"] == 4 and data["quotas"] == {
        "schedules": 3,
        "runningWorkflowRuns": 20,
    }
    assert data["effective"]["quotas"]["schedules"] == 3
    assert data["effective"]["quotas"]["webhookEndpoints"] == 100  # the setting
    assert partly.json()["data"]["quotas"] == {"runningWorkflowRuns": 20}
    assert shown.status_code == 200 and shown.json()["data"]["effective"]["fairnessWeight"] == 4
    assert cleared.json()["data"]["fairnessWeight"] is None
    assert cleared.json()["data"]["effective"]["fairnessWeight"] == 1.0


async def test_running_tool_executions_cap_answers_429(
    stack: Stack, steps_target: StepTarget
) -> None:
    user_id, key = await new_user(stack)
    assert (await set_limits(stack, user_id, quotas={"runningToolExecutions": 1})).is_success
    hold = {"method": "GET", "url": steps_target.url("/hold/tool-cap")}
    quick = {"method": "GET", "url": steps_target.url("/echo/quick")}
    async with stack.api(key) as api:

        async def execute(params: dict[str, Any]) -> httpx.Response:
            body = {"toolName": "HTTP_REQUEST", "params": params, "async": True}
            return await api.post("/api/v1/tools/execute", json=body)

        first = await execute(hold)
        assert first.status_code == 202, first.text

        async def holding() -> bool:
            return steps_target.held["tool-cap"] == 1

        await wait_for(holding)
        over = await execute(quick)
        stats = (await api.get("/api/v2/users/jobs")).json()["data"]["statistics"]
        steps_target.release("tool-cap")

        async def admitted() -> httpx.Response | None:
            again = await execute(quick)
            return again if again.status_code == 202 else None

        later = await wait_for(admitted)
    assert over.status_code == 429 and over.headers["retry-after"] == "5"
    assert quota_of(over) == {"quota": "runningToolExecutions", "limit": 1, "current": 1}
    assert "1 of 1 running tool executions" in over.json()["error"]
    assert stats["quotas"]["runningToolExecutions"] == {"limit": 1, "current": 1}
    assert later.json()["executionId"] != first.json()["executionId"]


async def test_kept_things_answer_403_past_their_quota(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    await set_limits(
        stack, user_id, quotas={"webhookEndpoints": 1, "schedules": 1, "activeApiKeys": 2}
    )
    hook = {"name": "h", "url": "http://127.0.0.1:9/hook", "events": ["tool.completed"]}
    async with stack.api(key) as api:
        first_hook = await api.post("/api/v1/webhooks", json=hook)
        second_hook = await api.post("/api/v1/webhooks", json=hook)
        wf = await create_workflow(api, [http_step("tick", "http://127.0.0.1:9/tick")])
        path = f"/api/v1/workflows/{wf['id']}/schedules"
        every_minute = await api.post(path, json={"cron": "* * * * *"})
        hourly = await api.post(path, json={"cron": "0 * * * *"})
        second_schedule = await api.post(path, json={"cron": "30 * * * *"})
        faster = await api.patch(
            f"/api/v1/schedules/{hourly.json()['id']}", json={"cron": "*/2 * * * *"}
        )
        minted = await api.post("/api/v2/keys", json={"name": "k2", "permissions": ["*"]})
        refused_key = await api.post("/api/v2/keys", json={"name": "k3", "permissions": ["*"]})
        stats = (await api.get("/api/v2/users/jobs")).json()["data"]["statistics"]["quotas"]
    assert first_hook.status_code == 201
    assert second_hook.status_code == 403
    assert quota_of(second_hook) == {"quota": "webhookEndpoints", "limit": 1, "current": 1}
    assert every_minute.status_code == 403
    assert quota_of(every_minute) == {
        "quota": "scheduleMinIntervalSeconds",
        "limit": 300,
        "current": 60,
    }
    assert "runs every 1 minute(s)" in every_minute.json()["error"]
    assert hourly.status_code == 201
    assert second_schedule.status_code == 403
    assert quota_of(second_schedule)["quota"] == "schedules"
    assert faster.status_code == 403 and quota_of(faster)["current"] == 120
    assert minted.status_code == 201
    assert refused_key.status_code == 403 and refused_key.json()["code"] == "QUOTA_EXCEEDED"
    assert refused_key.json()["details"] == {"limit": 2, "active": 2}  # the keys API's shape
    assert stats["webhookEndpoints"] == {"limit": 1, "current": 1}
    assert stats["schedules"] == {"limit": 1, "current": 1}
    assert stats["activeApiKeys"] == {"limit": 2, "current": 2}
    assert stats["scheduleMinIntervalSeconds"] == {"limit": 300}


async def test_bulk_sizes_answer_403_past_their_quota(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    await set_limits(stack, user_id, quotas={"bulkImportRows": 2, "bulkEnrichmentLeads": 1})
    rows = [{"email": f"a{i}@example.com", "firstName": "A"} for i in range(3)]
    async with stack.api(key) as api:
        imported = await api.post("/api/v2/leads/import", json={"leads": rows})
        fits = await api.post("/api/v2/leads/import", json={"leads": rows[:2]})
        batch = await api.post("/api/v2/enrichment/batches", json={"leadIds": ["l1", "l2"]})
    assert imported.status_code == 403
    assert quota_of(imported, "v2") == {"quota": "bulkImportRows", "limit": 2, "current": 3}
    assert "3 rows per import sent, at most 2" in imported.json()["message"]
    assert fits.status_code == 202
    assert batch.status_code == 403
    assert quota_of(batch, "v2") == {"quota": "bulkEnrichmentLeads", "limit": 1, "current": 2}


async def test_operator_keys_are_off_by_default_then_capped_per_month(
    stack: Stack, temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    _user, key = await new_user(stack)
    batch = {"leadIds": ["l1", "l2"], "providers": ["hunter"]}
    async with stack.api(key) as api:  # the shared stack: no operator keys offered
        refused = await api.post("/api/v2/enrichment/batches", json=batch)
    assert refused.status_code == 422 and refused.json()["code"] == "PROVIDER_KEY_REQUIRED"
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path,
        hunter_api_key="operator-key",
        enrichment_operator_keys=True,
        quota_operator_enrichment_per_month=3,
        task_queue_prefix="oq" + uuid.uuid4().hex[:8],
    )
    async with run_stack(temporal_env, settings, with_worker=False) as own:
        _user, key = await new_user(own)
        async with own.api(key) as api:
            first = await api.post("/api/v2/enrichment/batches", json=batch)
            second = await api.post("/api/v2/enrichment/batches", json=batch)
            with_own_key = await api.post(
                "/api/v2/enrichment/batches", json={**batch, "apiKeys": {"hunter": "mine"}}
            )
            stats = (await api.get("/api/v2/users/jobs")).json()["data"]["statistics"]["quotas"]
    assert first.status_code == 202
    assert second.status_code == 429 and int(second.headers["retry-after"]) > 0
    assert quota_of(second, "v2") == {
        "quota": "operatorEnrichmentPerMonth",
        "limit": 3,
        "current": 2,
        "requested": 2,
    }
    assert with_own_key.status_code == 202  # the user's own key is not the operator's bill
    assert stats["operatorEnrichmentPerMonth"] == {"limit": 3, "current": 2, "enabled": True}


def test_the_app_family_shape_of_a_quota() -> None:
    err = from_domain(
        QuotaError(
            "Quota exceeded: 5 of 5",
            quota="runningToolExecutions",
            limit=5,
            current=5,
            status=429,
            retry_after=5.0,
        )
    )
    body = error_body("/v1/app_1/integrations/execute", err)
    assert err.status == 429 and err.headers == {"Retry-After": "5"}
    assert body == {
        "error": {
            "code": "QUOTA_EXCEEDED",
            "message": "Quota exceeded: 5 of 5",
            "details": {"quota": "runningToolExecutions", "limit": 5, "current": 5},
        }
    }
