"""Webhook payloads and signatures, as receivers verify them.

Two schemes are sent on every delivery:

* the workflows API's ``X-Webhook-Signature``: hex HMAC-SHA256 of the raw body, keyed
  with the endpoint secret exactly as shown to the user (``whsec_…``);
* Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``):
  ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the base64-decoded
  part of the secret, so the official ``standardwebhooks`` libraries accept it.
  During a secret rotation both secrets sign, space-separated, newest first.

Secrets are only ever handled here and in the delivery activity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any

SECRET_PREFIX = "whsec_"
USER_AGENT = "Taskyard-Webhooks/1.0"
# Headers Taskyard sets itself; an endpoint's custom headers may not override them.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "user-agent",
        "transfer-encoding",
        "connection",
        "x-webhook-signature",
        "x-webhook-signature-previous",
        "x-webhook-event",
        "x-webhook-delivery",
        "x-webhook-attempt",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes (Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def iso_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def payload(event: str, occurred_at: datetime, data: dict[str, Any]) -> bytes:
    """The workflows API's POST body, ``{event, timestamp, data}``: the same bytes every retry."""
    return json.dumps(
        {"event": event, "timestamp": iso_timestamp(occurred_at), "data": data},
        separators=(",", ":"),
        sort_keys=False,
        default=str,
    ).encode()


def hex_signature(secret: str, body: bytes) -> str:
    """The workflows API's recipe:
    ``createHmac('sha256', secret).update(payload).digest('hex')``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    signing_secrets: list[str],
    *,
    delivery_id: str,
    event: str,
    body: bytes,
    timestamp: int,
    attempt: int,
    custom: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every header of one attempt. ``signing_secrets``: current first, then the previous one."""
    headers = {k: v for k, v in (custom or {}).items() if k.lower() not in RESERVED_HEADERS}
    current = signing_secrets[0]
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-Signature": hex_signature(current, body),
            "X-Webhook-Event": event,
            "X-Webhook-Delivery": delivery_id,
            "X-Webhook-Attempt": str(attempt),
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(
                standard_signature(s, delivery_id, timestamp, body) for s in signing_secrets
            ),
        }
    )
    if len(signing_secrets) > 1:
        headers["X-Webhook-Signature-Previous"] = hex_signature(signing_secrets[1], body)
    return headers
