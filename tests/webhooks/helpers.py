"""Shared steps for webhook tests: create an endpoint, verify what a receiver got."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from activities.events import DeliveryStarter
from engine.services.events import EventPublisher
from store.db import Database
from tests.conftest import Stack, wait_for
from tests.fakes.server import Recorded
from tests.webhooks.receiver import Receiver


async def create_hook(
    api: httpx.AsyncClient, url: str, events: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"name": "hook", "url": url, "events": events or ["*"], **extra}
    r = await api.post("/api/v1/webhooks", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def seed_recipe_ok(body: bytes, signature: str, secret: str) -> bool:
    """The workflows API's verifier, transcribed: hex HMAC-SHA256 of the raw body,
    constant-time compare."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.encode(), expected.encode())


def verify_both(rec: Recorded, secret: str) -> Any:
    """Both schemes accept the request; returns the parsed body."""
    assert seed_recipe_ok(rec.body, rec.headers["x-webhook-signature"], secret)
    return Webhook(secret).verify(rec.body, rec.headers)


async def received(
    receiver: Receiver, path: str, count: int = 1, timeout: float = 30.0
) -> list[Recorded]:
    async def enough() -> list[Recorded] | None:
        got = receiver.at(path)
        return got if len(got) >= count else None

    result: list[Recorded] = await wait_for(enough, timeout=timeout)
    return result


def publisher(
    stack: Stack, *, db: Database | None = None, prefix: str | None = None
) -> EventPublisher:
    """Events published from the client side, through the fan-out workflow unless ``db``."""
    starter = DeliveryStarter.from_settings(stack.settings)
    if prefix is not None:
        starter = dataclasses.replace(starter, task_queue_prefix=prefix)
    return EventPublisher(stack.client, starter, db)
