"""The jobs API over real tool-execution workflows."""

from __future__ import annotations

import time

from tests.conftest import Stack, new_user, wait_for


async def _run(stack: Stack, key: str, url: str, *, run_async: bool = False) -> str:
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/tools/execute",
            json={"toolName": "HTTP_REQUEST", "params": {"url": url}, "async": run_async},
        )
    assert r.status_code in (200, 202, 422, 502), r.text
    return str(r.json()["executionId"])


async def test_jobs_list_statistics_and_filters(stack: Stack, target) -> None:
    _user, key = await new_user(stack, ["users:read", "tools:execute"])
    ok_ids = [await _run(stack, key, target.base_url + "/echo") for _ in range(2)]
    bad_id = await _run(stack, key, "http://bad host/")
    async with stack.api(key) as api:

        async def listed() -> dict | None:
            r = await api.get("/api/v2/users/jobs")
            data = r.json()["data"]
            return data if data["statistics"]["total"] == 3 else None

        data = await wait_for(listed)
        stats = dict(data["statistics"])
        assert stats.pop("quotas")["runningToolExecutions"] == {"limit": None}  # fair share
        assert stats == {
            "total": 3,
            "pending": 0,
            "running": 0,
            "completed": 2,
            "failed": 1,
            "cancelled": 0,
            "successRate": 66.7,
        }
        by_id = {j["id"]: j for j in data["jobs"]}
        assert set(by_id) == {*ok_ids, bad_id}
        job = by_id[ok_ids[0]]
        assert job["type"] == "tool_execution" and job["status"] == "completed"
        assert job["progress"] == 100 and job["completedAt"] and job["createdAt"].endswith("Z")
        assert job["metadata"]["toolName"] == "HTTP_REQUEST"
        assert by_id[bad_id]["status"] == "failed" and "failed" in by_id[bad_id]["message"]

        failed = (await api.get("/api/v2/users/jobs", params={"status": "failed"})).json()
        assert [j["id"] for j in failed["data"]["jobs"]] == [bad_id]
        typed = (await api.get("/api/v2/users/jobs", params={"type": "linkedin_action"})).json()
        assert typed["data"]["jobs"] == [] and typed["data"]["statistics"]["total"] == 0
        future = int(time.time()) + 3600
        later = (await api.get("/api/v2/users/jobs", params={"startDate": future})).json()
        assert later["data"]["jobs"] == []
        now_window = {"startDate": int(time.time()) - 3600, "endDate": future}
        window = (await api.get("/api/v2/users/jobs", params=now_window)).json()
        assert len(window["data"]["jobs"]) == 3

        page1 = (await api.get("/api/v2/users/jobs", params={"limit": 2})).json()["data"]
        assert len(page1["jobs"]) == 2 and page1["pagination"]["hasMore"] is True
        token = page1["pagination"]["nextPageToken"]
        page2 = (
            await api.get("/api/v2/users/jobs", params={"limit": 2, "pageToken": token})
        ).json()["data"]
        assert len(page2["jobs"]) == 1
        assert {j["id"] for j in page1["jobs"] + page2["jobs"]} == {*ok_ids, bad_id}


async def test_jobs_query_validation(stack: Stack) -> None:
    _user, key = await new_user(stack, ["users:read"])
    async with stack.api(key) as api:
        for params in (
            {"status": "weird"},
            {"type": "nope"},
            {"startDate": "yesterday"},
            {"limit": 1000},
            {"startDate": 10, "endDate": 5},
            {"pageToken": "%%%"},
        ):
            r = await api.get("/api/v2/users/jobs", params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.json()["error"] is True and r.json()["version"] == "2.0"


async def test_one_job_and_tenant_isolation(stack: Stack, target) -> None:
    _a, key_a = await new_user(stack)
    _b, key_b = await new_user(stack)
    job_id = await _run(stack, key_a, target.base_url + "/echo")
    async with stack.api(key_a) as api:
        r = await api.get(f"/api/v2/users/jobs/{job_id}")
        assert r.status_code == 200 and r.json()["data"]["status"] == "completed"
    async with stack.api(key_b) as api:
        assert (await api.get(f"/api/v2/users/jobs/{job_id}")).status_code == 404
        assert (await api.delete(f"/api/v2/users/jobs/{job_id}")).status_code == 404
        r = await api.put(f"/api/v2/users/jobs/editJobMessage/{job_id}", json={"message": "x"})
        assert r.status_code == 404
        listed = (await api.get("/api/v2/users/jobs")).json()["data"]
        assert listed["jobs"] == [] and listed["statistics"]["total"] == 0
        assert (await api.get("/api/v2/users/jobs/exec_doesnotexist")).status_code == 404


async def test_cancel_a_running_job(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    job_id = await _run(stack, key, target.base_url + "/slow", run_async=True)
    await wait_for(lambda: _is_set(target.slow_started))
    async with stack.api(key) as api:
        running = (await api.get(f"/api/v2/users/jobs/{job_id}")).json()["data"]
        assert running["status"] == "running" and 0 < running["progress"] < 100
        r = await api.delete(f"/api/v2/users/jobs/{job_id}")
        assert r.status_code == 202

        async def cancelled() -> bool:
            data = (await api.get(f"/api/v2/users/jobs/{job_id}")).json()["data"]
            return data["status"] == "cancelled"

        await wait_for(cancelled, timeout=10)
        again = await api.delete(f"/api/v2/users/jobs/{job_id}")
        assert again.status_code == 409 and again.json()["code"] == "JOB_ALREADY_FINISHED"


async def _is_set(event) -> bool:
    return event.is_set()


async def test_global_key_on_simplified_route_and_legacy_routes(stack: Stack, target) -> None:
    user_id, key = await new_user(stack)
    job_id = await _run(stack, key, target.base_url + "/echo")
    async with stack.admin as admin:
        r = await admin.get("/api/v2/users/jobs")
        assert r.status_code == 400
        assert r.json() == {
            "error": "When using global API key, please use the specific route: "
            "/api/v2/users/jobs/userJobStatus/:userId",
            "availableRoute": "/api/v2/users/jobs/userJobStatus/:userId",
        }
        legacy = (await admin.get(f"/api/v2/users/jobs/userJobStatus/{user_id}")).json()
        assert legacy["userId"] == user_id and [j["id"] for j in legacy["data"]["jobs"]] == [job_id]
        counts = (
            await admin.get("/api/v2/users/jobs/jobCounts", params={"userId": user_id})
        ).json()
        assert counts["data"]["statistics"]["completed"] == 1 and "jobs" not in counts["data"]
        everyone = (await admin.get("/api/v2/users/jobs/jobStatus")).json()
        assert (
            job_id in {j["id"] for j in everyone["data"]["jobs"]}
            or everyone["data"]["pagination"]["hasMore"]
        )
    async with stack.api(key) as api:
        r = await api.put(
            f"/api/v2/users/jobs/editJobMessage/{job_id}", json={"message": "checked by hand"}
        )
        assert r.status_code == 200 and r.json()["data"]["message"] == "checked by hand"
        listed = (await api.get("/api/v2/users/jobs")).json()["data"]["jobs"]
        assert listed[0]["message"] == "checked by hand"
        other = await api.get("/api/v2/users/jobs/userJobStatus/someoneelse")
        assert other.status_code == 404
        empty = await api.put(f"/api/v2/users/jobs/editJobMessage/{job_id}", json={})
        assert empty.status_code == 400
