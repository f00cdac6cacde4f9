"""Unipile's webhooks drive campaigns: the ``Unipile-Auth`` secret, new relations and new
messages in Unipile's documented shapes, account status, repeats and out-of-order events."""

from __future__ import annotations

from typing import Any

from tests.conftest import new_user, wait_for
from tests.linkedin.conftest import RealProviders
from tests.linkedin.fakes import WEBHOOK_SECRET
from tests.linkedin.helpers import RETURN_URL, connect, job
from tests.linkedin.test_campaigns_api import BASE, enrollment_jobs, job_message, ok

HOOK = "/api/v2/linkedin/events/unipile"
STEPS = [
    {"type": "sendConnectionRequest"},
    {"type": "waitForAcceptance", "hours": 2},
    {"type": "sendMessage", "message": "Thanks for connecting"},
    {"type": "wait", "hours": 2},
    {"type": "sendMessage", "message": "Following up"},
]


async def _connect(env: RealProviders, key: str) -> str:
    """Link LinkedIn through Unipile's hosted sign-in; returns the Unipile account id."""
    final = await connect(env.stack, key)
    assert final.headers["location"] == RETURN_URL + "?linkedin=connected"
    account: str = env.unipile.notified[-1][1]["account_id"]
    async with env.stack.api(key) as api:
        r = await api.put(
            "/api/v2/linkedin/settings",
            json={"minDelaySeconds": 0, "maxDelaySeconds": 0, "workingHours": None},
        )
        assert r.status_code == 200, r.text
    return account


async def _hook(
    env: RealProviders, body: dict[str, Any], secret: str | None = WEBHOOK_SECRET
) -> Any:
    headers = {"Unipile-Auth": secret} if secret is not None else {}
    async with env.stack.api() as anon:
        return await anon.post(HOOK, json=body, headers=headers)


async def test_unipile_events_drive_enrollments(real_providers: RealProviders) -> None:
    env = real_providers
    _user, key = await new_user(env.stack)
    account = await _connect(env, key)
    marie = env.unipile.add_member("marie-sklodowska")
    pierre = env.unipile.add_member("pierre-curie")
    async with env.stack.api(key) as api:
        cid = (
            await ok(
                await api.post(
                    BASE,
                    json={
                        "name": "unipile",
                        "steps": STEPS,
                        "targets": {
                            "profileUrls": [
                                "https://www.linkedin.com/in/marie-sklodowska",
                                "https://www.linkedin.com/in/pierre-curie",
                            ]
                        },
                    },
                ),
                201,
            )
        )["id"]
        await ok(await api.post(f"{BASE}/{cid}/start"), 202)
    jobs = {
        j["metadata"]["profileUrl"].rsplit("/", 1)[1]: j["id"]
        for j in await enrollment_jobs(env.stack, key, cid)
    }
    for job_id in jobs.values():
        await job_message(env.stack, key, job_id, "waiting for acceptance")

    relation = {
        "event": "new_relation",
        "account_id": account,
        "account_type": "LINKEDIN",
        "webhook_name": "relations",
        "user_full_name": "Marie Sklodowska",
        "user_provider_id": marie["id"],
        "user_public_identifier": "marie-sklodowska",
        "user_profile_url": "https://www.linkedin.com/in/marie-sklodowska/",
    }
    assert (await _hook(env, relation, secret=None)).status_code == 401
    wrong = await _hook(env, relation, secret="nope")
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_WEBHOOK_SECRET"
    first = await _hook(env, relation)
    assert first.status_code == 200 and first.json()["matched"] == 1, first.text
    repeat = await _hook(env, relation)
    assert repeat.json()["duplicate"] is True and repeat.json()["matched"] == 0
    await job_message(env.stack, key, jobs["marie-sklodowska"], "waiting until")
    assert [m["text"] for m in env.unipile.messages if m["users_ids"] == marie["id"]] == [
        "Thanks for connecting"
    ]

    def message(sender: str, message_id: str) -> dict[str, Any]:
        return {
            "account_id": account,
            "account_type": "LINKEDIN",
            "account_info": {"user_id": "ACoAAowner"},
            "event": "message_received",
            "chat_id": "chat-1",
            "timestamp": "2026-12-01T10:00:00.000Z",
            "webhook_name": "messages",
            "message_id": message_id,
            "message": "Sounds good!",
            "sender": {
                "attendee_id": "att-1",
                "attendee_name": "Someone",
                "attendee_provider_id": sender,
                "attendee_profile_url": f"https://www.linkedin.com/in/{sender}/",
            },
        }

    own = await _hook(env, message("ACoAAowner", "m-0"))
    assert own.json()["ignored"] is True  # the account's own message
    # pierre replies before accepting (events can arrive out of order): the enrollment stops
    replied = await _hook(env, message(pierre["id"], "m-1"))
    assert replied.json()["matched"] == 1, replied.text
    stopped = await job_message(env.stack, key, jobs["pierre-curie"], "the lead replied")
    assert stopped["status"] == "completed"
    late = dict(relation, user_provider_id=pierre["id"], user_public_identifier="pierre-curie")
    late.pop("user_profile_url")
    assert (await _hook(env, late)).json()["matched"] == 0  # nobody is waiting for it any more
    assert not [m for m in env.unipile.messages if m["users_ids"] == pierre["id"]]

    status = {
        "AccountStatus": {
            "account_id": account,
            "account_type": "LINKEDIN",
            "message": "CREDENTIALS",
        }
    }
    assert (await _hook(env, status)).status_code == 200

    async def restricted() -> bool:
        async with env.stack.api(key) as api:
            view = (await ok(await api.get("/api/v2/linkedin/settings")))["governor"]
        return bool(view and view["restricted"])

    await wait_for(restricted, timeout=60)
    async with env.stack.api(key) as api:
        campaign = await ok(await api.get(f"{BASE}/{cid}"))
        assert campaign["status"] == "paused"
        assert "disconnected" in campaign["pauseReason"]
        stats = await ok(await api.get(f"{BASE}/{cid}/stats"))
    assert stats["invited"] == 2 and stats["accepted"] == 1 and stats["replied"] == 1
    marie_job = await job(env.stack, key, jobs["marie-sklodowska"])
    assert marie_job["status"] == "running"
    async with env.stack.api(key) as api:
        await ok(await api.post(f"{BASE}/{cid}/cancel"))
    await job_message(env.stack, key, jobs["marie-sklodowska"], "Cancelled")
