"""Retry schedule, Retry-After, exhaustion and auto-disable, on the time-skipping server.

Back-off waits of minutes and an hour of continuous failure pass in moments;
the receiver is a real local HTTP server, the database a real SQLite file.
"""

from __future__ import annotations

import json

import pytest

from engine.models.events import delivery_id_for
from store.webhooks import WebhookEndpoint
from tests.webhooks.helpers import received
from tests.webhooks.skipping import Skipping


async def test_backoff_doubles_from_backoff_ms_with_bounded_jitter(skipping: Skipping) -> None:
    user = await skipping.user()
    endpoint = await skipping.endpoint(
        user, "/flaky", ["lead.*"], max_attempts=5, backoff_ms=60_000
    )
    skipping.receiver.script["/flaky"] = [500, 502, 500]
    event_id = await skipping.publish(user)
    ok, timers = await skipping.outcome(delivery_id_for(event_id, endpoint))
    assert ok
    assert len(timers) == 3
    for n, waited in enumerate(timers):
        nominal = 60.0 * 2**n
        assert nominal <= waited < nominal * 1.25 + 0.001, timers
    got = skipping.receiver.at("/flaky")
    assert [r.headers["x-webhook-attempt"] for r in got] == ["1", "2", "3", "4"]
    assert len({r.headers["x-webhook-delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the same bytes on every attempt
    row = await skipping.delivery(delivery_id_for(event_id, endpoint))
    assert row.status == "succeeded" and row.attempts == 4


async def test_retry_after_is_honoured_on_429_and_503(skipping: Skipping) -> None:
    user = await skipping.user()
    endpoint = await skipping.endpoint(
        user, "/busy", ["lead.created"], max_attempts=3, backoff_ms=1000
    )
    skipping.receiver.script["/busy"] = [
        (429, {"Retry-After": "600"}),
        (503, {"Retry-After": "120"}),
    ]
    event_id = await skipping.publish(user)
    ok, timers = await skipping.outcome(delivery_id_for(event_id, endpoint))
    assert ok
    assert timers[0] == pytest.approx(600.0) and timers[1] == pytest.approx(120.0)


async def test_exhausted_delivery_tells_the_owner_elsewhere(skipping: Skipping) -> None:
    user = await skipping.user()
    failing = await skipping.endpoint(
        user, "/down", ["lead.created"], max_attempts=3, backoff_ms=30_000
    )
    await skipping.endpoint(user, "/ops", ["webhook.delivery.exhausted"])
    skipping.receiver.default["/down"] = 500
    event_id = await skipping.publish(user)
    delivery_id = delivery_id_for(event_id, failing)
    ok, timers = await skipping.outcome(delivery_id)
    assert not ok and len(timers) == 2
    assert len(skipping.receiver.at("/down")) == 3
    [notice] = await received(skipping.receiver, "/ops")
    body = json.loads(notice.body)
    assert body["event"] == "webhook.delivery.exhausted"
    assert body["data"]["deliveryId"] == delivery_id
    assert body["data"]["endpointId"] == failing
    assert body["data"]["lastStatusCode"] == 500
    row = await skipping.delivery(delivery_id)
    assert row.status == "failed" and row.attempts == 3


async def test_continuous_failure_disables_the_endpoint(skipping: Skipping) -> None:
    """Failing for an hour (the configured period) disables the endpoint, once, and says so."""
    user = await skipping.user()
    failing = await skipping.endpoint(
        user, "/dead", ["lead.created"], max_attempts=10, backoff_ms=600_000
    )
    await skipping.endpoint(user, "/admin", ["webhook.endpoint.disabled"])
    skipping.receiver.default["/dead"] = 503
    event_id = await skipping.publish(user)
    ok, timers = await skipping.outcome(delivery_id_for(event_id, failing))
    assert not ok
    # attempts at 0, 10, 30, 70 min: the fourth is past an hour of failure
    assert len(skipping.receiver.at("/dead")) == 4 and len(timers) == 3
    async with skipping.db.session() as session:
        row = await session.get(WebhookEndpoint, failing)
    assert row is not None
    assert row.status == "disabled" and row.disabled_reason == "failing"
    [notice] = await received(skipping.receiver, "/admin")
    assert notice.headers["x-webhook-event"] == "webhook.endpoint.disabled"
    # a later event is not delivered to the disabled endpoint at all
    await skipping.publish(user)
    assert len(skipping.receiver.at("/dead")) == 4
