"""Provider webhooks and the sandbox's hand-fired events, as the API receives them.

Unipile (https://developer.unipile.com) authenticates a webhook with a header you choose
when creating it, conventionally ``Unipile-Auth: <secret>`` (no signature): the events
route compares that header with ``linkedin_webhook_secret`` in constant time and refuses
everything when no secret is configured. Payloads, as Unipile documents them:

* new relation (``source: users``)::

    {"event": "new_relation", "account_id", "account_type": "LINKEDIN", "user_full_name",
     "user_provider_id", "user_public_identifier", "user_profile_url", ...}

* new message (``source: messaging``)::

    {"event": "message_received", "account_id", "account_info": {"user_id"}, "chat_id",
     "message_id", "message", "timestamp",
     "sender": {"attendee_provider_id", "attendee_profile_url", ...}, ...}

  (messages the account itself sent arrive too: ``sender`` is the account's own user);
* account status (``source: account_status``)::

    {"AccountStatus": {"account_id", "account_type", "message": "OK" | "ERROR" |
     "STOPPED" | "CREDENTIALS" | ...}}

  and the v2 event object ``{"id": "evt_…", "type": "account.status.disconnected" |
  "account.status.errored" | "account.status.paused" | "account.status.running",
  "account_id", "payload"}``.

Each becomes a ``ProviderEvent`` with a stable id (the message id; the account and member
of a relation), so a provider's retries are recognised. What the events do is
``activities.linkedin_events.LinkedInEventSink``'s job.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from temporalio.client import Client

from activities.events import DeliveryStarter
from activities.linkedin_events import LinkedInEventSink
from connectors.errors import InvalidInputError
from connectors.linkedin import profile_slug
from engine.models.campaigns import IngestResult, ProviderEvent
from settings import Settings
from store.db import Database, utcnow
from store.errors import InvalidError

AUTH_HEADER = "unipile-auth"
PROVIDERS = ("unipile",)
# Unipile's account status messages (v1) and event types (v2), as Taskyard reads them.
STATUS_V1 = {
    "OK": "running",
    "RECONNECTED": "running",
    "CREATION_SUCCESS": "running",
    "SYNC_SUCCESS": "running",
    "CREDENTIALS": "disconnected",
    "DELETED": "disconnected",
    "ERROR": "restricted",
    "STOPPED": "restricted",
}
STATUS_V2 = {
    "account.status.running": "running",
    "account.status.disconnected": "disconnected",
    "account.status.errored": "restricted",
    "account.status.paused": "restricted",
}
SANDBOX_KINDS = {
    "invitation.accepted": ("accepted", None),
    "message.received": ("replied", None),
    "account.restricted": ("account_status", "restricted"),
    "account.disconnected": ("account_status", "disconnected"),
    "account.running": ("account_status", "running"),
}


class UnknownProvider(InvalidError):
    code = "UNKNOWN_PROVIDER"


def webhook_authentic(settings: Settings, headers: Mapping[str, str]) -> bool | None:
    """True: the configured secret was sent; False: it was not; None: none is configured."""
    secret = settings.linkedin_webhook_secret
    if secret is None or not secret.get_secret_value():
        return None
    sent = headers.get(AUTH_HEADER, "")
    return hmac.compare_digest(sent.encode(), secret.get_secret_value().encode())


def _slug(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return profile_slug(value).lower()
    except InvalidInputError:
        return None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _status_event(account: str, status: str, raw_id: str, at: Any, reported: str) -> ProviderEvent:
    return ProviderEvent(
        id=f"unipile:status:{raw_id}"[:200],
        provider="unipile",
        kind="account_status",
        account_ref=account,
        status=status,  # type: ignore[arg-type]
        reason=f"{status} (Unipile reported {reported})",
        at=_when(at),
    )


def parse_unipile(body: dict[str, Any]) -> ProviderEvent | None:
    """The event a Unipile webhook carries, or None when it is nothing campaigns act on."""
    status = body.get("AccountStatus")
    if isinstance(status, dict):
        account, message = str(status.get("account_id") or ""), str(status.get("message") or "")
        mapped = STATUS_V1.get(message.upper())
        if not account or mapped is None:
            return None
        # No id in the payload: the governor acts only on a change of state, so a repeat is
        # harmless; the second stamps two reports of one state as one event.
        stamp = utcnow().strftime("%Y%m%d%H%M%S")
        raw = f"{account}:{message.upper()}:{stamp}"
        return _status_event(account, mapped, raw, None, message.upper())
    kind = body.get("type")
    if isinstance(kind, str) and kind in STATUS_V2 and body.get("id") and body.get("account_id"):
        return _status_event(
            str(body["account_id"]),
            STATUS_V2[kind],
            f"{body['account_id']}:{kind}:{body['id']}",
            body.get("created_at"),
            kind,
        )
    event = body.get("event")
    account = str(body.get("account_id") or "")
    if not account:
        return None
    if event == "new_relation":
        member = body.get("user_provider_id")
        slug = _slug(body.get("user_profile_url")) or (
            str(body["user_public_identifier"]).lower()
            if body.get("user_public_identifier")
            else None
        )
        if not (member or slug):
            return None
        return ProviderEvent(
            id=f"unipile:relation:{account}:{member or slug}"[:200],
            provider="unipile",
            kind="accepted",
            account_ref=account,
            profile_slug=slug,
            provider_user_id=str(member) if member else None,
        )
    if event == "message_received":
        sender: dict[str, Any] = body["sender"] if isinstance(body.get("sender"), dict) else {}
        info: dict[str, Any] = (
            body["account_info"] if isinstance(body.get("account_info"), dict) else {}
        )
        member = sender.get("attendee_provider_id")
        if not member or member == info.get("user_id") or body.get("is_sender"):
            return None  # a message the account itself sent (from another device)
        message_id = body.get("message_id") or hashlib.sha256(repr(body).encode()).hexdigest()
        return ProviderEvent(
            id=f"unipile:message:{message_id}"[:200],
            provider="unipile",
            kind="replied",
            account_ref=account,
            profile_slug=_slug(sender.get("attendee_profile_url")),
            provider_user_id=str(member),
            text=str(body.get("message") or "")[:2000],
            at=_when(body.get("timestamp")),
        )
    return None


def sandbox_event(
    account_id: str, kind: str, *, profile_url: str | None, text: str | None, event_id: str | None
) -> ProviderEvent:
    """A provider event fired by hand for a sandbox account."""
    what, status = SANDBOX_KINDS[kind]
    slug = None
    if profile_url:
        slug = _slug(profile_url)
        if slug is None:
            raise InvalidError(
                "profileUrl is not a LinkedIn member profile URL", field="profileUrl"
            )
    return ProviderEvent(
        id=f"sandbox:{account_id}:{event_id or uuid.uuid4().hex}",
        provider="sandbox",
        kind=what,  # type: ignore[arg-type]
        account_ref=account_id,
        profile_slug=slug,
        text=text,
        status=status,  # type: ignore[arg-type]
        reason=f"{status} (sandbox)" if status else None,
        at=utcnow(),
    )


async def ingest(
    db: Database, client: Client, settings: Settings, event: ProviderEvent
) -> IngestResult:
    """Signal the enrollments or the governor an event concerns (idempotent by event id)."""
    sink = LinkedInEventSink(db, client, DeliveryStarter.from_settings(settings))
    return await sink.ingest(event)
