"""What receivers and owners notice on the real stack: 410, error status, rotation,
retry and recover, the test event, throttling, timeouts, and exactly-once publishing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from engine.models.events import delivery_id_for, event_id_for
from store.webhooks import WebhookEndpoint, webhook_summary
from tests.conftest import Stack, new_user, wait_for
from tests.webhooks.helpers import create_hook, publisher, received, seed_recipe_ok, verify_both
from tests.webhooks.receiver import Receiver


async def publish(
    stack: Stack, user: str, name: str = "lead.created", data: dict | None = None
) -> str:
    event_id = event_id_for(uuid.uuid4().hex, name)
    await publisher(stack).publish_one(user, name, data or {"leadId": "lead_x"}, event_id)
    return event_id


def delivery_ids(receiver: Receiver, path: str) -> set[str]:
    return {r.headers["x-webhook-delivery"] for r in receiver.at(path)}


async def delivery_status(api, hook_id: str, delivery_id: str, wanted: str) -> dict:
    async def reached() -> dict | None:
        r = await api.get(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery_id}")
        return r.json() if r.status_code == 200 and r.json()["status"] == wanted else None

    result: dict = await wait_for(reached, timeout=30)
    return result


async def test_410_disables_and_tells_the_other_endpoints(stack: Stack, receiver: Receiver) -> None:
    user, key = await new_user(stack)
    receiver.default["/gone"] = 410
    async with stack.api(key) as api:
        gone = await create_hook(
            api,
            receiver.url("/gone"),
            ["lead.created"],
            retryPolicy={"maxAttempts": 5, "backoffMs": 100},
        )
        await create_hook(api, receiver.url("/ops"), ["webhook.endpoint.disabled"])
        event_id = await publish(stack, user)
        [notice] = await received(receiver, "/ops")
        body = json.loads(notice.body)
        assert body["event"] == "webhook.endpoint.disabled"
        assert body["data"]["endpointId"] == gone["id"] and body["data"]["reason"] == "gone"
        r = await api.get(f"/api/v1/webhooks/{gone['id']}")
        assert r.json()["status"] == "disabled" and r.json()["disabledReason"] == "gone"
        failed = await delivery_status(
            api, gone["id"], delivery_id_for(event_id, gone["id"]), "failed"
        )
        # 410 is final: the policy's five attempts are not used. (An infrastructure retry
        # of the one attempt, after a heartbeat timeout on a loaded machine, may repeat
        # the request, always with the same delivery id.)
        assert 1 <= failed["attempts"] <= 2
        assert delivery_ids(receiver, "/gone") == {failed["id"]}
        assert (await webhook_summary(stack.deps.db, user)).status == "error"
        later = await publish(stack, user)  # not delivered to a disabled endpoint
        # its fan-out plans receivers when it runs: let it finish before re-enabling
        await stack.client.get_workflow_handle(later).result()
        r = await api.patch(f"/api/v1/webhooks/{gone['id']}", json={"enabled": True})
        assert r.json()["status"] == "active"
    assert delivery_ids(receiver, "/gone") == {failed["id"]}


async def test_failures_turn_error_and_one_success_clears(stack: Stack, receiver: Receiver) -> None:
    user, key = await new_user(stack)
    receiver.script["/shaky"] = [500, 500, 500]
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/shaky"),
            ["lead.created"],
            retryPolicy={"maxAttempts": 3, "backoffMs": 100},
        )
        first = await publish(stack, user)
        await delivery_status(api, hook["id"], delivery_id_for(first, hook["id"]), "failed")
        shown = (await api.get(f"/api/v1/webhooks/{hook['id']}")).json()
        assert shown["status"] == "error" and shown["consecutiveFailures"] == 3
        assert shown["lastError"] == "HTTP 500"
        assert (await webhook_summary(stack.deps.db, user)).status == "error"
        second = await publish(stack, user)
        await delivery_status(api, hook["id"], delivery_id_for(second, hook["id"]), "succeeded")
        shown = (await api.get(f"/api/v1/webhooks/{hook['id']}")).json()
        assert shown["status"] == "active" and shown["consecutiveFailures"] == 0
        assert (await webhook_summary(stack.deps.db, user)).status == "active"


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    stack: Stack, receiver: Receiver
) -> None:
    user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(api, receiver.url("/rot"), ["lead.created"])
        old = hook["secret"]
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret")
        assert r.status_code == 200
        new = r.json()["secret"]
        expires = datetime.fromisoformat(r.json()["previousSecretExpiresAt"])
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
        assert new != old
        await publish(stack, user)
        [rec] = await received(receiver, "/rot")
        assert len(rec.headers["webhook-signature"].split(" ")) == 2
        verify_both(rec, new)
        Webhook(old).verify(rec.body, rec.headers)  # the old secret still verifies
        assert seed_recipe_ok(rec.body, rec.headers["x-webhook-signature-previous"], old)
        # once the overlap has passed, only the new secret signs
        async with stack.deps.db.session() as session:
            await session.exec(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == hook["id"])
                .values(previous_secret_expires_at=datetime.now(UTC))
            )
            await session.commit()
        await publish(stack, user)
        [_, later] = await received(receiver, "/rot", 2)
        verify_both(later, new)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(later.body, later.headers)
        assert "x-webhook-signature-previous" not in later.headers


async def test_retry_redelivers_with_the_same_delivery_id(stack: Stack, receiver: Receiver) -> None:
    _user, key = await new_user(stack)
    receiver.script["/once"] = [500]
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/once"),
            ["lead.created"],
            retryPolicy={"maxAttempts": 1, "backoffMs": 100},
        )
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/test")
        delivery_id = r.json()["deliveryId"]
        await delivery_status(api, hook["id"], delivery_id, "failed")
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery_id}/retry")
        assert r.status_code == 202 and r.json()["round"] == 1
        detail = await delivery_status(api, hook["id"], delivery_id, "succeeded")
        assert [(a["round"], a["statusCode"]) for a in detail["attemptLog"]] == [(0, 500), (1, 200)]
        assert detail["attempts"] == 2
        first, second = receiver.at("/once")
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
        assert first.body == second.body
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/whd_nope/retry")
        assert r.status_code == 404


async def test_recover_redelivers_every_failed_delivery_since(
    stack: Stack, receiver: Receiver
) -> None:
    user, key = await new_user(stack)
    receiver.default["/outage"] = 503
    since = datetime.now(UTC) - timedelta(seconds=5)
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/outage"),
            ["lead.*"],
            retryPolicy={"maxAttempts": 1, "backoffMs": 100},
        )
        events = [
            await publish(stack, user, name)
            for name in ("lead.created", "lead.updated", "lead.created")
        ]
        ids = [delivery_id_for(e, hook["id"]) for e in events]
        for delivery_id in ids:
            await delivery_status(api, hook["id"], delivery_id, "failed")
        r = await api.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries",
            params={"status": "failed", "event": "lead.created"},
        )
        assert {d["id"] for d in r.json()["data"]} == {ids[0], ids[2]}
        r = await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", params={"limit": 2})
        page = r.json()
        assert len(page["data"]) == 2 and page["pagination"]["hasMore"]
        r = await api.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries",
            params={"limit": 2, "cursor": page["pagination"]["nextCursor"]},
        )
        assert len(r.json()["data"]) == 1 and not r.json()["pagination"]["hasMore"]
        seen = {d["id"] for d in page["data"]} | {d["id"] for d in r.json()["data"]}
        assert seen == set(ids)
        bad = await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", params={"cursor": "x"})
        assert bad.status_code == 400
        receiver.default["/outage"] = 200
        r = await api.post(
            f"/api/v1/webhooks/{hook['id']}/recover", json={"since": since.isoformat()}
        )
        assert r.status_code == 202, r.text
        assert r.json()["recovered"] == 3 and set(r.json()["deliveryIds"]) == set(ids)
        for delivery_id in ids:
            await delivery_status(api, hook["id"], delivery_id, "succeeded")
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/recover", json={"since": "yesterday"})
        assert r.status_code == 422


async def test_publishing_an_event_twice_delivers_once(stack: Stack, receiver: Receiver) -> None:
    user, key = await new_user(stack)
    async with stack.api(key) as api:
        await create_hook(api, receiver.url("/dedupe"), ["lead.created"])
    lead = f"lead_{uuid.uuid4().hex[:8]}"
    event_id = event_id_for(f"{lead}:1", "lead.created")
    fanout = publisher(stack)
    assert await fanout.publish_one(user, "lead.created", {"id": "lead_abc"}, event_id)
    [rec] = await received(receiver, "/dedupe")
    assert not await fanout.publish_one(user, "lead.created", {"id": "lead_abc"}, event_id)
    await stack.client.get_workflow_handle(event_id).result()
    assert len(receiver.at("/dedupe")) == 1
    assert json.loads(rec.body)["data"] == {"id": "lead_abc"}
    # nobody subscribes to lead.updated: with the database at hand, nothing is started
    other = event_id_for(f"{lead}:2", "lead.updated")
    assert not await publisher(stack, db=stack.deps.db).publish_one(user, "lead.updated", {}, other)


async def test_throttle_spaces_deliveries(stack: Stack, receiver: Receiver) -> None:
    user, key = await new_user(stack)
    async with stack.api(key) as api:
        await create_hook(api, receiver.url("/slow-rcv"), ["lead.created"], rateLimitPerSecond=2)
    for _ in range(6):
        await publish(stack, user)
    await received(receiver, "/slow-rcv", 6)
    times = sorted(
        t
        for t, r in zip(receiver.arrivals, receiver.requests, strict=True)
        if r.path == "/slow-rcv"
    )
    # six sends at 2/s take at least 2.5 s; arrival jitter under load is allowed for
    assert times[-1] - times[0] >= 2.0


async def test_slow_receiver_times_out(stack: Stack, receiver: Receiver) -> None:
    _user, key = await new_user(stack)
    receiver.delay["/sleepy"] = 3.0
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/sleepy"),
            ["lead.created"],
            timeoutMs=1000,
            retryPolicy={"maxAttempts": 1, "backoffMs": 100},
        )
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/test")
        detail = await delivery_status(api, hook["id"], r.json()["deliveryId"], "failed")
    [attempt] = detail["attemptLog"]
    assert attempt["statusCode"] is None and attempt["error"] == "timed out after 1s"
    assert attempt["durationMs"] < 2500


async def test_cancelling_the_delivery_job_stops_its_retries(
    stack: Stack, receiver: Receiver
) -> None:
    user, key = await new_user(stack)
    receiver.default["/never"] = 500
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/never"),
            ["lead.created"],
            retryPolicy={"maxAttempts": 5, "backoffMs": 600_000},
        )
        event_id = await publish(stack, user)
        delivery_id = delivery_id_for(event_id, hook["id"])
        await delivery_status(api, hook["id"], delivery_id, "retrying")
        r = await api.delete(f"/api/v2/users/jobs/{delivery_id}")
        assert r.status_code == 202, r.text
        detail = await delivery_status(api, hook["id"], delivery_id, "cancelled")
    assert detail["attempts"] == 1 and len(receiver.at("/never")) == 1
