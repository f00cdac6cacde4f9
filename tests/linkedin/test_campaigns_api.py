"""LinkedIn campaigns through the API on the dev server, with the sandbox provider: the
resource, validation, enrollments as jobs, events fired by hand, stats, controls."""

from __future__ import annotations

from typing import Any

import httpx

from engine.models.linkedin import governor_id
from store import linkedin as accounts
from tests.conftest import Stack, new_user, wait_for
from tests.linkedin.helpers import connect, fast_settings, job, record_history

BASE = "/api/v2/linkedin/campaigns"
SEQUENCE = [
    {"type": "viewProfile"},
    {"type": "sendConnectionRequest", "note": "Hi {{lead.firstName | there}}"},
    {"type": "waitForAcceptance", "hours": 1},
    {"type": "sendMessage", "message": "Thanks {{firstName | friend}}!"},
]


def url(slug: str) -> str:
    return f"https://www.linkedin.com/in/{slug}"


async def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def connected_user(stack: Stack, **settings: Any) -> tuple[str, str]:
    user_id, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key, **settings)
    return user_id, key


async def enrollment_jobs(stack: Stack, key: str, campaign_id: str) -> list[dict[str, Any]]:
    async with stack.api(key) as api:
        r = await api.get("/api/v2/users/jobs", params={"type": "campaign_enrollment"})
    jobs = r.json()["data"]["jobs"]
    return [j for j in jobs if j["metadata"].get("campaignId") == campaign_id]


async def job_message(stack: Stack, key: str, job_id: str, needle: str) -> dict[str, Any]:
    async def told() -> dict[str, Any] | None:
        data = await job(stack, key, job_id)
        return data if needle in data["message"] else None

    found: dict[str, Any] = await wait_for(told, timeout=60)
    return found


async def fire(stack: Stack, key: str, **body: Any) -> dict[str, Any]:
    async with stack.api(key) as api:
        return await ok(await api.post("/api/v2/linkedin/sandbox/events", json=body))


async def test_a_campaign_runs_through_the_api(stack: Stack) -> None:
    user_id, key = await connected_user(stack)
    async with stack.api(key) as api:
        created = await ok(
            await api.post(
                BASE,
                json={
                    "name": "Founders",
                    "steps": SEQUENCE,
                    "targets": {
                        "profileUrls": [url("ada-one"), url("ada-two"), url("ada-one")],
                        "leads": [{"profileUrl": url("grace-three"), "firstName": "Grace"}],
                    },
                },
            ),
            201,
        )
        cid = created["id"]
        assert cid.startswith("cmp_") and created["status"] == "draft"
        assert created["targets"] == {"total": 3, "byStatus": {"pending": 3}}
        assert created["accountIds"] and created["steps"][1]["type"] == "sendConnectionRequest"
        renamed = await ok(await api.patch(f"{BASE}/{cid}", json={"name": "Founders 2"}))
        assert renamed["name"] == "Founders 2"
        listed = await ok(await api.get(BASE, params={"limit": 5}))
        assert [c["id"] for c in listed["campaigns"]] == [cid]
        started = await ok(await api.post(f"{BASE}/{cid}/start"), 202)
        assert started == {"campaignId": cid, "status": "running", "enrolled": 3}
        again = await ok(await api.post(f"{BASE}/{cid}/start"), 202)
        assert again["enrolled"] == 0  # a repeated start enrolls nobody twice
        r = await api.patch(f"{BASE}/{cid}", json={"name": "late"})
        assert r.status_code == 409 and r.json()["code"] == "CAMPAIGN_STATE_CONFLICT"
    jobs = await enrollment_jobs(stack, key, cid)
    assert len(jobs) == 3 and {j["type"] for j in jobs} == {"campaign_enrollment"}
    by_url = {j["metadata"]["profileUrl"]: j["id"] for j in jobs}
    grace = await job_message(stack, key, by_url[url("grace-three")], "waiting for acceptance")
    assert grace["message"] == "Step 3/4: waiting for acceptance, 1 of 1 hours"
    assert grace["status"] == "running" and grace["userId"] == user_id
    assert grace["priority"] == 4 and grace["fairnessKey"] == user_id  # bulk work
    accepted = await fire(stack, key, type="invitation.accepted", profileUrl=url("grace-three"))
    assert accepted["matched"] == 1 and not accepted["duplicate"]
    done = await job_message(stack, key, by_url[url("grace-three")], "Sequence completed")
    assert done["status"] == "completed"
    await job_message(stack, key, by_url[url("ada-one")], "waiting for acceptance")
    replied = await fire(
        stack, key, type="message.received", profileUrl=url("ada-one"), eventId="r-1"
    )
    assert replied["matched"] == 1
    repeat = await fire(
        stack, key, type="message.received", profileUrl=url("ada-one"), eventId="r-1"
    )
    assert repeat["duplicate"] is True and repeat["matched"] == 0
    stopped = await job_message(stack, key, by_url[url("ada-one")], "the lead replied")
    assert stopped["status"] == "completed"
    async with stack.api(key) as api:
        stats = await ok(await api.get(f"{BASE}/{cid}/stats"))
    assert stats["enrolled"] == 3 and stats["invited"] == 3
    assert stats["accepted"] == 1 and stats["replied"] == 1 and stats["messaged"] == 1
    assert stats["acceptanceRate"] == 33.3 and stats["replyRate"] == 100.0
    assert stats["steps"][0]["outcomes"] == {"done": 3}
    assert stats["steps"][3]["outcomes"] == {"done": 1}
    assert stats["byStatus"] == {"active": 1, "completed": 1, "replied": 1}
    assert stats["accounts"][0]["enrolled"] == 3 and stats["workflows"]["running"] == 1
    async with stack.api(key) as api:
        removed = await ok(await api.delete(f"{BASE}/{cid}/leads/ada-two"))
        assert removed["status"] == "removed" and removed["enrollmentId"] == by_url[url("ada-two")]
        r = await api.delete(f"{BASE}/{cid}/leads/nobody")
        assert r.status_code == 404 and r.json()["code"] == "LEAD_NOT_IN_CAMPAIGN"

    async def finished() -> dict[str, Any] | None:
        async with stack.api(key) as api:
            data = await ok(await api.get(f"{BASE}/{cid}"))
        return data if data["status"] == "completed" else None

    last = await wait_for(finished, timeout=60)
    assert last["finishedAt"] and last["targets"]["byStatus"]["removed"] == 1
    cancelled = await job(stack, key, by_url[url("ada-two")])
    assert cancelled["status"] == "cancelled"


async def test_bad_campaigns_are_refused_with_their_reasons(stack: Stack) -> None:
    _user, key = await new_user(stack)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "x", "steps": []}, 422, "steps"),
        ({"name": "x", "steps": [{"type": "wait", "days": 1}]}, 422, "at least one action"),
        ({"name": "x", "steps": [{"type": "sendMessage"}]}, 422, "needs a message"),
        ({"name": "x", "steps": [{"type": "poke"}]}, 422, "type"),
        (
            {"name": "x", "steps": [{"type": "viewProfile", "message": "hi"}]},
            422,
            "does not take message",
        ),
        (
            {"name": "x", "steps": [{"type": "wait", "days": 91}, {"type": "viewProfile"}]},
            422,
            "90",
        ),
        (
            {
                "name": "x",
                "steps": [
                    {"type": "viewProfile", "name": "a"},
                    {"type": "branch", "condition": "accepted", "goto": "a"},
                ],
            },
            422,
            "is not after this step",
        ),
        (
            {"name": "x", "steps": [{"type": "stopIf", "condition": "weather == 'rain'"}]},
            422,
            "unknown name 'weather'",
        ),
        (
            {"name": "x", "steps": [{"type": "sendMessage", "message": "Hi {{ (firstName }}"}]},
            422,
            "steps[0].message",
        ),
        ({"name": "x", "steps": [{"type": "viewProfile"}] * 21}, 422, "steps"),
        ({"steps": [{"type": "viewProfile"}]}, 400, "name"),
    ]
    async with stack.api(key) as api:
        for body, status, needle in cases:
            r = await api.post(BASE, json=body)
            assert r.status_code == status, (body, r.text)
            assert needle in r.text, (needle, r.text)
        r = await api.post(
            BASE,
            json={
                "name": "x",
                "steps": [{"type": "sendMessage", "message": "Hi {{firstName}}"}],
                "targets": {"profileUrls": [url("no-name"), "https://example.com/x"]},
            },
        )
        assert r.status_code == 422, r.text
        errors = r.json()["details"]["errors"]
        assert {(e["index"], e["field"]) for e in errors} == {
            (0, "steps[0].message"),
            (1, "profileUrl"),
        }
        assert (await api.get(BASE)).json()["data"]["campaigns"] == []  # nothing was kept
        r = await api.post(
            BASE,
            json={
                "name": "x",
                "steps": [{"type": "viewProfile"}],
                "targets": {"profileUrls": [url("someone")]},
            },
        )
        assert r.status_code == 400 and r.json()["code"] == "LINKEDIN_NOT_CONNECTED"
        assert (await api.get(BASE)).json()["data"]["campaigns"] == []
        r = await api.post(BASE, json={"name": "x", "steps": [{"type": "viewProfile"}]})
        cid = r.json()["data"]["id"]
        r = await api.post(f"{BASE}/{cid}/start")
        assert r.status_code == 400 and r.json()["code"] == "LINKEDIN_NOT_CONNECTED"
        r = await api.post(
            f"{BASE}/{cid}/targets", json={"profileUrls": [url(f"p{i}") for i in range(1001)]}
        )
        assert r.status_code == 422 and "1000" in r.text
        r = await api.get(f"{BASE}/cmp_missing")
        assert r.status_code == 404 and r.json()["code"] == "CAMPAIGN_NOT_FOUND"
    _other, other_key = await new_user(stack)
    async with stack.api(other_key) as api:
        assert (await api.get(f"{BASE}/{cid}")).status_code == 404
    _reader, reader = await new_user(stack, ["users:read"])
    async with stack.api(reader) as api:
        r = await api.get(BASE)
    assert r.status_code == 403 and r.json()["permissionHelp"]["required"] == "linkedin:schedule"
    async with stack.admin as admin:
        r = await admin.get(BASE)
        assert r.status_code == 400 and r.json()["code"] == "USER_ID_REQUIRED"


async def test_pause_holds_enrollments_and_resume_releases_them(stack: Stack) -> None:
    # an hour between actions: the first runs, the others wait at the governor
    _user, key = await connected_user(stack, minDelaySeconds=3600, maxDelaySeconds=3600)
    async with stack.api(key) as api:
        cid = (
            await ok(
                await api.post(
                    BASE,
                    json={
                        "name": "paced",
                        "steps": [{"type": "viewProfile"}, {"type": "followProfile"}],
                        "targets": {"profileUrls": [url(f"paced-{i}") for i in range(3)]},
                    },
                ),
                201,
            )
        )["id"]
        await ok(await api.post(f"{BASE}/{cid}/start"), 202)
    jobs = await enrollment_jobs(stack, key, cid)
    for j in jobs:
        await job_message(stack, key, j["id"], "next")

    async def governor() -> dict[str, Any]:
        async with stack.api(key) as api:
            return (await ok(await api.get("/api/v2/linkedin/settings")))["governor"]

    async def queued(n: int) -> bool:
        return (await governor())["queued"] == n

    # the first view ran; the two other views and the first follow wait for their slots
    await wait_for(lambda: queued(3), timeout=60)
    async with stack.api(key) as api:
        paused = await ok(await api.post(f"{BASE}/{cid}/pause"))
        assert paused["status"] == "paused" and paused["pauseReason"] == "paused by its owner"
        assert (await ok(await api.post(f"{BASE}/{cid}/pause")))["status"] == "paused"
    await wait_for(lambda: queued(0), timeout=60)  # withdrawn from the governor
    held = [await job(stack, key, j["id"]) for j in jobs]
    assert all(h["message"].startswith("Paused (paused by its owner)") for h in held), held
    async with stack.api(key) as api:
        resumed = await ok(await api.post(f"{BASE}/{cid}/resume"))
        assert resumed["status"] == "running" and resumed["pauseReason"] is None
    await wait_for(lambda: queued(3), timeout=60)
    async with stack.api(key) as api:
        cancelled = await ok(await api.post(f"{BASE}/{cid}/cancel"))
        assert cancelled["status"] == "cancelled"
        r = await api.post(f"{BASE}/{cid}/resume")
        assert r.status_code == 409
    await wait_for(lambda: queued(0), timeout=60)
    for j in jobs:
        await job_message(stack, key, j["id"], "Cancelled")
    await record_history(stack.client, jobs[-1]["id"], "campaign_enrollment_cancelled_v1")


async def test_webhooks_need_the_configured_secret(stack: Stack) -> None:
    async with stack.api() as anon:
        r = await anon.post("/api/v2/linkedin/events/unipile", json={"event": "new_relation"})
        assert r.status_code == 401 and r.json()["code"] == "WEBHOOK_SECRET_NOT_CONFIGURED"
        r = await anon.post("/api/v2/linkedin/events/nobody", json={})
        assert r.status_code == 404


async def test_a_restricted_account_pauses_its_campaigns(stack: Stack, target: Any) -> None:
    user_id, key = await connected_user(stack, minDelaySeconds=3600, maxDelaySeconds=3600)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/webhooks",
            json={
                "name": "restricted",
                "url": target.base_url + "/sink",
                "events": ["linkedin.account.restricted"],
            },
        )
        assert r.status_code == 201, r.text
        cid = (
            await ok(
                await api.post(
                    BASE,
                    json={
                        "name": "to pause",
                        "steps": [{"type": "viewProfile"}, {"type": "followProfile"}],
                        "targets": {"profileUrls": [url(f"held-{i}") for i in range(2)]},
                    },
                ),
                201,
            )
        )["id"]
        await ok(await api.post(f"{BASE}/{cid}/start"), 202)
    jobs = await enrollment_jobs(stack, key, cid)
    for j in jobs:
        await job_message(stack, key, j["id"], "next")
    fired = await fire(stack, key, type="account.restricted", eventId="restricted-1")
    assert fired["matched"] == 0 and not fired["duplicate"]

    async def paused() -> dict[str, Any] | None:
        async with stack.api(key) as api:
            data = await ok(await api.get(f"{BASE}/{cid}"))
        return data if data["status"] == "paused" else None

    campaign = await wait_for(paused, timeout=60)
    assert campaign["pauseReason"] == "the LinkedIn account is restricted (sandbox)"
    for j in jobs:
        await job_message(stack, key, j["id"], "Paused (the LinkedIn account is restricted")

    async def delivered() -> Any:
        return [r for r in target.requests if r.path == "/sink"]

    [delivery] = await wait_for(delivered, timeout=60)
    assert delivery.json["event"] == "linkedin.account.restricted"
    assert delivery.json["data"]["pausedCampaigns"] == [cid]
    assert delivery.json["data"]["status"] == "restricted"
    async with stack.api(key) as api:
        governor = (await ok(await api.get("/api/v2/linkedin/settings")))["governor"]
        assert governor["restricted"] is True
        again = await fire(stack, key, type="account.restricted", eventId="restricted-1")
        assert again["duplicate"] is True
        await fire(stack, key, type="account.running")
        resumed = await ok(await api.post(f"{BASE}/{cid}/resume"))
        assert resumed["status"] == "running"

    async def free() -> bool:
        async with stack.api(key) as api:
            view = (await ok(await api.get("/api/v2/linkedin/settings")))["governor"]
        return view["restricted"] is False and view["queued"] >= 1

    await wait_for(free, timeout=60)
    assert len([r for r in target.requests if r.path == "/sink"]) == 1  # told once
    async with stack.api(key) as api:
        await ok(await api.post(f"{BASE}/{cid}/cancel"))
    account = await accounts.get_account(stack.deps.db, user_id)
    assert account is not None
    await record_history(stack.client, governor_id(account.id), "linkedin_governor_restricted_v1")


async def test_cancelling_a_campaign_of_500_enrollments(stack: Stack) -> None:
    _user, key = await connected_user(stack)
    async with stack.api(key) as api:
        cid = (
            await ok(
                await api.post(
                    BASE,
                    json={
                        "name": "big",
                        "steps": [{"type": "wait", "days": 10}, {"type": "viewProfile"}],
                        "targets": {"profileUrls": [url(f"bulk-member-{i}") for i in range(500)]},
                    },
                ),
                201,
            )
        )["id"]
        started = await ok(await api.post(f"{BASE}/{cid}/start"), 202)
        assert started["enrolled"] == 500

    async def stats() -> dict[str, Any]:
        async with stack.api(key) as api:
            return await ok(await api.get(f"{BASE}/{cid}/stats"))

    async def all_running() -> bool:
        return (await stats())["workflows"].get("running") == 500

    await wait_for(all_running, timeout=120, interval=0.5)
    async with stack.api(key) as api:
        cancelled = await ok(await api.post(f"{BASE}/{cid}/cancel"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["finishedAt"] is not None

    async def all_cancelled() -> dict[str, Any] | None:
        data = await stats()
        return data if data["workflows"].get("canceled") == 500 else None

    final = await wait_for(all_cancelled, timeout=180, interval=1.0)
    assert final["byStatus"] == {"cancelled": 500} and "running" not in final["workflows"]
