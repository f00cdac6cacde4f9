"""Scheduling LinkedIn actions through the API: jobs, validation, campaigns, settings, cancel."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType

from tests.conftest import Stack, new_user, wait_for
from tests.linkedin.helpers import connect, fast_settings, job, wait_status

PROFILE = "https://www.linkedin.com/in/john-doe"


async def _schedule(stack: Stack, key: str, **body: Any) -> dict[str, Any]:
    async with stack.api(key) as api:
        r = await api.post("/api/v2/linkedin/actions", json=body)
    assert r.status_code == 202, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def _input(stack: Stack, job_id: str) -> dict[str, Any]:
    """The job's workflow input, as recorded in its history."""
    handle = stack.client.get_workflow_handle(job_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [data] = await stack.client.data_converter.decode(payloads[:1], [dict])
            return data  # type: ignore[no-any-return]
    raise AssertionError("no start event")


async def test_an_action_runs_as_a_linkedin_action_job(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key)
    scheduled = await _schedule(
        stack,
        key,
        actionType="sendConnectionRequest",
        profileUrl="linkedin.com/in/john-doe/",
        note="Hi John",
    )
    assert scheduled["status"] == "pending" and scheduled["jobId"].startswith("job_")
    assert scheduled["profileUrl"] == PROFILE and scheduled["provider"] == "sandbox"
    done = await wait_status(stack, key, scheduled["jobId"], "completed", "failed")
    assert done["status"] == "completed", done
    assert done["type"] == "linkedin_action" and done["progress"] == 100
    assert done["message"] == "Connection request sent successfully"
    meta = done["metadata"]
    assert meta["actionType"] == "sendConnectionRequest" and meta["profileUrl"] == PROFILE
    assert meta["delay"] == 0 and meta["provider"] == "sandbox"
    async with stack.api(key) as api:
        listed = (await api.get("/api/v2/users/jobs", params={"type": "linkedin_action"})).json()
    assert [j["id"] for j in listed["data"]["jobs"]] == [scheduled["jobId"]]
    assert listed["userId"] == user_id


async def test_validation_is_a_clear_4xx(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/linkedin/actions", json={"actionType": "viewProfile", "profileUrl": PROFILE}
        )
        assert r.status_code == 400 and r.json()["code"] == "LINKEDIN_NOT_CONNECTED"
    await connect(stack, key)
    cases = [
        (
            {"actionType": "sendConnectionRequest", "profileUrl": PROFILE, "note": "x" * 301},
            "300 characters",
        ),
        (
            {"actionType": "viewProfile", "profileUrl": "https://example.com/in/john"},
            "linkedin.com member profile",
        ),
        ({"actionType": "sendMessage", "profileUrl": PROFILE}, "needs a message"),
        ({"actionType": "likePost", "profileUrl": PROFILE}, "needs a postUrl"),
        ({"actionType": "poke", "profileUrl": PROFILE}, "actionType"),
        ({"actionType": "viewProfile", "profileUrl": PROFILE, "note": "hi"}, "note"),
        (
            {
                "actionType": "viewProfile",
                "profileUrl": PROFILE,
                "scheduledAt": "2099-01-01T00:00Z",
            },
            "within a year",
        ),
    ]
    async with stack.api(key) as api:
        for body, needle in cases:
            r = await api.post("/api/v2/linkedin/actions", json=body)
            assert r.status_code == 422, (body, r.text)
            assert needle in r.text, (needle, r.text)
        r = await api.post("/api/v2/linkedin/actions", json={"actionType": "viewProfile"})
        assert r.status_code == 400 and r.json()["code"] == "MISSING_FIELDS"
    _u, reader = await new_user(stack, ["users:read"])
    async with stack.api(reader) as api:
        r = await api.post(
            "/api/v2/linkedin/actions", json={"actionType": "viewProfile", "profileUrl": PROFILE}
        )
    assert r.status_code == 403 and r.json()["permissionHelp"]["required"] == "linkedin:schedule"


async def test_a_waiting_action_says_when_and_can_be_cancelled(stack: Stack) -> None:
    _user, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key, minDelaySeconds=3600, maxDelaySeconds=3600)
    first = await _schedule(stack, key, actionType="viewProfile", profileUrl=PROFILE)
    await wait_status(stack, key, first["jobId"], "completed")
    waiting = await _schedule(stack, key, actionType="followProfile", profileUrl=PROFILE)

    async def told() -> dict[str, Any] | None:
        data = await job(stack, key, waiting["jobId"])
        return data if "expected to run around" in data["message"] else None

    data = await wait_for(told)
    assert data["status"] == "pending" and data["metadata"]["scheduledFor"]
    async with stack.api(key) as api:
        r = await api.get("/api/v2/linkedin/settings")
        assert r.json()["data"]["governor"]["queued"] == 1
        r = await api.delete(f"/api/v2/users/jobs/{waiting['jobId']}")
        assert r.status_code == 202
    cancelled = await wait_status(stack, key, waiting["jobId"], "cancelled")
    assert "did not run" in cancelled["message"]

    async def freed() -> bool:
        async with stack.api(key) as api:
            gov = (await api.get("/api/v2/linkedin/settings")).json()["data"]["governor"]
        return gov["queued"] == 0 and gov["totals"].get("cancelled") == 1

    await wait_for(freed)


async def test_a_limit_pauses_the_account(stack: Stack) -> None:
    _user, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key)
    limited = await _schedule(
        stack,
        key,
        actionType="sendConnectionRequest",
        profileUrl="https://www.linkedin.com/in/sandbox-limit-jane",
    )

    async def paused() -> dict[str, Any] | None:
        data = await job(stack, key, limited["jobId"])
        return data if "paused" in data["message"] else None

    data = await wait_for(paused)
    assert data["status"] == "pending" and "limit" in data["message"]
    async with stack.api(key) as api:
        gov = (await api.get("/api/v2/linkedin/settings")).json()["data"]["governor"]
        assert gov["pausedUntil"] and "LinkedIn reported a limit" in gov["pauseReason"]
        await api.delete(f"/api/v2/users/jobs/{limited['jobId']}")
    await wait_status(stack, key, limited["jobId"], "cancelled")


async def test_provider_refusals_fail_the_job_with_its_reason(stack: Stack) -> None:
    _user, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key)
    missing = await _schedule(
        stack,
        key,
        actionType="sendMessage",
        message="hello",
        profileUrl="https://www.linkedin.com/in/sandbox-missing-bob",
    )
    failed = await wait_status(stack, key, missing["jobId"], "failed")
    assert failed["message"] == "Message failed: get profile: member not found (sandbox)"


async def test_a_campaign_renders_templates_per_lead(stack: Stack) -> None:
    _user, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/leads",
            json={
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@example.com",
                "company": "Navy",
                "linkedin_url": "https://www.linkedin.com/in/grace-hopper",
            },
        )
        assert r.status_code == 201, r.text
        lead_id = r.json()["id"]
        r = await api.post(
            "/api/v2/linkedin/actions/bulk",
            json={
                "actionType": "sendConnectionRequest",
                "note": "Hi {{firstName|there}}, I liked your work at {{ company | your company }}",
                "leads": [
                    {
                        "profileUrl": "https://www.linkedin.com/in/ada-lovelace",
                        "firstName": "Ada",
                        "company": "Analytical Engines",
                    }
                ],
                "leadIds": [lead_id],
                "profileUrls": [
                    "https://www.linkedin.com/in/anon-person",
                    "https://linkedin.com/in/anon-person/",
                ],
                "campaignName": "spring",
            },
        )
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    assert data["count"] == 3 and data["duplicates"] == 1 and data["status"] == "pending"
    notes = [(await _input(stack, j))["note"] for j in data["jobIds"]]
    assert notes == [
        "Hi there, I liked your work at your company",
        "Hi Ada, I liked your work at Analytical Engines",
        "Hi Grace, I liked your work at Navy",
    ]
    for job_id in data["jobIds"]:
        done = await wait_status(stack, key, job_id, "completed", "failed")
        assert done["status"] == "completed"
        assert done["metadata"]["campaignId"] == data["campaignId"]


async def test_a_campaign_with_a_bad_lead_schedules_nothing(stack: Stack) -> None:
    _user, key = await new_user(stack)
    await connect(stack, key)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/linkedin/actions/bulk",
            json={
                "actionType": "sendMessage",
                "message": "Hi {{firstName}}",
                "leads": [
                    {"profileUrl": "https://www.linkedin.com/in/ada-lovelace"},
                    {"profileUrl": "not a url", "firstName": "X"},
                ],
            },
        )
        assert r.status_code == 422
        errors = r.json()["details"]["errors"]
        assert {(e["index"], e["field"]) for e in errors} == {(0, "message"), (1, "profileUrl")}
        r = await api.post(
            "/api/v2/linkedin/actions/bulk",
            json={"actionType": "viewProfile", "leadIds": ["lead_nope"]},
        )
        assert r.status_code == 422 and r.json()["code"] == "LEADS_NOT_FOUND"
        r = await api.get("/api/v2/users/jobs", params={"type": "linkedin_action"})
        assert r.json()["data"]["jobs"] == []


async def test_settings_read_and_change(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.get("/api/v2/linkedin/settings")
        assert r.status_code == 200
        data = r.json()["data"]
        assert data["dailyLimits"]["sendConnectionRequest"] == 20
        assert data["weeklyLimits"]["sendConnectionRequest"] == 100
        assert data["dailyLimits"]["sendMessage"] == 50 and data["dailyLimits"]["viewProfile"] == 80
        assert data["workingHours"] == {
            "start": "09:00",
            "end": "18:00",
            "days": [1, 2, 3, 4, 5],
            "timezone": "UTC",
        }
        assert data["connected"] is False and data["governor"] is None
        r = await api.put(
            "/api/v2/linkedin/settings",
            json={
                "dailyLimits": {"sendMessage": 10},
                "workingHours": {
                    "start": "08:30",
                    "end": "17:00",
                    "days": [1, 2, 3],
                    "timezone": "Europe/Paris",
                },
            },
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["dailyLimits"]["sendMessage"] == 10
        assert data["dailyLimits"]["sendConnectionRequest"] == 20
        assert data["workingHours"]["timezone"] == "Europe/Paris"
        for bad in (
            {"dailyLimits": {"poke": 1}},
            {"minDelaySeconds": 500, "maxDelaySeconds": 5},
            {"workingHours": {"timezone": "Nowhere/Land"}},
            {"surprise": 1},
        ):
            r = await api.put("/api/v2/linkedin/settings", json=bad)
            assert r.status_code == 422, (bad, r.text)
        r = await api.get("/api/v2/linkedin/settings")
        assert r.json()["data"]["dailyLimits"]["sendMessage"] == 10  # nothing was lost
    await connect(stack, key)
    data = await fast_settings(stack, key)
    assert data["workingHours"] is None and data["connected"] is True
    assert data["governor"]["usage"]["sendMessage"]["dailyLimit"] == 10


async def test_disconnecting_fails_waiting_actions(stack: Stack) -> None:
    _user, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key, dailyLimits={"likePost": 0})
    blocked = await _schedule(
        stack,
        key,
        actionType="likePost",
        profileUrl=PROFILE,
        postUrl="https://www.linkedin.com/feed/update/urn:li:activity:71234567890",
    )

    async def switched_off() -> bool:
        return "switched off" in (await job(stack, key, blocked["jobId"]))["message"]

    await wait_for(switched_off)
    async with stack.api(key) as api:
        assert (await api.delete("/api/v2/users/integrations/linkedin")).status_code == 200
    failed = await wait_status(stack, key, blocked["jobId"], "failed")
    assert "disconnected" in failed["message"]
