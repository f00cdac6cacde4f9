from __future__ import annotations

from tests.conftest import Stack, new_user


async def test_health_reports_every_service(stack: Stack) -> None:
    async with stack.api() as api:
        r = await api.get("/api/v2/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert body["services"]["database"] == "healthy"
    assert body["services"]["temporal"] == "healthy"
    assert "X-RateLimit-Limit" in r.headers


async def test_sync_http_tool_execution(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/tools/execute",
            json={"toolName": "HTTP_REQUEST", "params": {"url": target.base_url + "/echo"}},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["successful"] is True
    assert body["data"]["status"] == 200
    assert body["executionId"].startswith("exec_")


async def test_health_is_degraded_without_temporal(temporal_env, database_url, tmp_path) -> None:
    from tests.conftest import make_settings, run_stack

    settings = make_settings(temporal_env, database_url, tmp_path, temporal_address="127.0.0.1:1")
    async with run_stack(temporal_env, settings, with_worker=False) as broken:
        async with broken.api() as api:
            r = await api.get("/api/v2/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["services"]["temporal"] == "down" and body["services"]["database"] == "healthy"
