"""Webhook URLs cannot reach Taskyard's own network: refused when saved, refused at send,
and redirects are never followed."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import ActivityEnvironment

from activities.events import store_and_plan
from activities.webhook_delivery import WebhookDeliveryActivities
from engine.models.events import EventInput, PublishEventsInput, event_id_for
from engine.models.webhooks import AttemptInput, DeliveryPolicy
from store.db import utcnow
from store.webhooks import WebhookDelivery
from tests.conftest import Stack, new_user, wait_for
from tests.webhooks.helpers import create_hook
from tests.webhooks.receiver import Receiver

PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://2130706433/hook",  # decimal 127.0.0.1
    "http://0177.0.0.1/hook",  # octal first octet
    "http://017700000001/hook",  # octal, whole address
    "http://0x7f.0.0.1/hook",  # hexadecimal
    "http://127.1/hook",  # short form
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_urls_are_refused_when_saved(strict_stack: Stack, url: str) -> None:
    _user, key = await new_user(strict_stack)
    async with strict_stack.api(key) as api:
        r = await api.post("/api/v1/webhooks", json={"name": "n", "url": url, "events": ["*"]})
        assert r.status_code == 422, r.text
        assert r.json()["code"] in ("URL_NOT_ALLOWED", "INVALID_WEBHOOK")
        assert (await api.get("/api/v1/webhooks")).json() == []


async def test_private_url_refused_on_update(strict_stack: Stack) -> None:
    _user, key = await new_user(strict_stack)
    async with strict_stack.api(key) as api:
        # A public name that does not resolve here is accepted; every send checks it again.
        hook = await create_hook(api, "https://hooks.example.com/in")
        r = await api.patch(
            f"/api/v1/webhooks/{hook['id']}", json={"url": "http://169.254.169.254/"}
        )
        assert r.status_code == 422 and r.json()["code"] == "URL_NOT_ALLOWED"
        r = await api.get(f"/api/v1/webhooks/{hook['id']}")
        assert r.json()["url"] == "https://hooks.example.com/in"


async def test_address_is_checked_again_at_send(stack: Stack, receiver: Receiver) -> None:
    """An endpoint saved while private URLs were allowed is refused once they are not."""
    user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(api, receiver.url("/internal-service"), ["lead.created"])
    event_id = event_id_for(uuid.uuid4().hex, "lead.created")
    [start] = await store_and_plan(
        stack.deps.db,
        PublishEventsInput(
            user_id=user,
            events=[
                EventInput(name="lead.created", id=event_id, occurred_at=utcnow(), data={"x": 1})
            ],
        ),
    )
    strict = WebhookDeliveryActivities(
        stack.deps.db, stack.deps.vault, DeliveryPolicy(allow_private_urls=False)
    )
    out = await ActivityEnvironment().run(
        strict.attempt_webhook_delivery,
        AttemptInput(
            delivery_id=start.delivery_id,
            user_id=user,
            endpoint_id=hook["id"],
            event_id=event_id,
            workflow_time=utcnow(),
        ),
    )
    assert out.outcome == "failed" and out.final and not out.exhausted
    assert "refused" in (out.error or "")
    assert receiver.requests == []
    async with stack.deps.db.session() as session:
        row = await session.get(WebhookDelivery, start.delivery_id)
        assert row is not None and row.status == "failed"
    await strict.close()


async def test_redirects_are_not_followed(stack: Stack, receiver: Receiver) -> None:
    _user, key = await new_user(stack)
    receiver.default["/moved"] = (302, {"Location": receiver.url("/internal")})
    async with stack.api(key) as api:
        hook = await create_hook(
            api,
            receiver.url("/moved"),
            ["lead.created"],
            retryPolicy={"maxAttempts": 1, "backoffMs": 100},
        )
        r = await api.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert r.status_code == 202, r.text
        delivery_id = r.json()["deliveryId"]

        async def failed() -> dict | None:
            r = await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery_id}")
            return r.json() if r.status_code == 200 and r.json()["status"] == "failed" else None

        detail = await wait_for(failed)
    [attempt] = detail["attemptLog"]
    assert attempt["statusCode"] == 302 and "redirect not followed" in attempt["error"]
    assert receiver.at("/internal") == []
    assert len(receiver.at("/moved")) == 1
