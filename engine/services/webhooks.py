"""Webhook endpoints for the API: create, read, change, delete, rotate, test.

Secrets are generated here, shown once, and stored only encrypted (associated
data binds each ciphertext to its owner and endpoint). URLs are checked when
saved — the same address check the delivery activity repeats at every send.
Deliveries, retries and recovery live in ``engine.services.deliveries``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from activities.webhook_signing import RESERVED_HEADERS, generate_secret
from connectors import netguard
from connectors.errors import InvalidInputError
from engine.models.events import EVENT_CATALOG, delivery_id_for, event_id_for
from engine.services.events import EventPublisher
from engine.services.fair_share import FairShare
from settings import Settings
from store import webhook_repo
from store.db import Database, as_utc, utcnow
from store.errors import ConflictError, InvalidError, NotFoundError
from store.vault import Vault, associated_data
from store.webhooks import (
    HEADERS_KIND,
    PREVIOUS_SECRET_KIND,
    SECRET_KIND,
    WebhookEndpoint,
)

HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
SENSITIVE_HEADER = re.compile(
    r"(authorization|cookie|token|secret|passw|api[-_]?key|signature)", re.I
)
MASK = "********"


class WebhookNotFound(NotFoundError):
    code = "WEBHOOK_NOT_FOUND"


class InvalidWebhook(InvalidError):
    code = "INVALID_WEBHOOK"


class WebhookConflict(ConflictError):
    code = "CONFLICT"


@dataclass
class EndpointSpec:
    """Validated fields of a create or update (None: leave as is)."""

    name: str | None = None
    url: str | None = None
    events: list[str] | None = None
    headers: dict[str, str] | None = None
    max_attempts: int | None = None
    backoff_ms: int | None = None
    timeout_ms: int | None = None
    rate_limit_per_second: float | None = None
    enabled: bool | None = None
    clear_timeout: bool = False
    clear_rate_limit: bool = False


def check_events(events: list[str]) -> list[str]:
    """Catalog names, ``*``, or ``family.*`` of a family in the catalog; de-duplicated."""
    families = {name.rsplit(".", 1)[0] for name in EVENT_CATALOG}
    for name in events:
        if name == "*" or name in EVENT_CATALOG:
            continue
        if name.endswith(".*") and any(f == name[:-2] or f.startswith(name[:-1]) for f in families):
            continue
        raise InvalidWebhook(
            f"unknown event {name!r}; see GET /api/v1/webhooks/events",
            field="events",
            code="UNKNOWN_EVENT",
        )
    return list(dict.fromkeys(events))


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise InvalidWebhook(f"invalid header name {name!r}", field="headers")
        if name.lower() in RESERVED_HEADERS or name.lower().startswith(("x-webhook-", "webhook-")):
            raise InvalidWebhook(
                f"header {name!r} is set by Taskyard and cannot be overridden", field="headers"
            )
        if any(c in value for c in "\r\n\x00") or len(value) > 4096:
            raise InvalidWebhook(f"invalid value for header {name!r}", field="headers")
    return dict(headers)


async def check_url(url: str, *, allow_private: bool) -> str:
    """Refuse what can never be delivered to: bad syntax, other schemes, blocked addresses.

    A host that does not resolve yet is accepted: the send-time check still applies.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidWebhook(f"url is not a valid URL: {exc}", field="url") from exc
    if parsed.scheme not in ("http", "https"):
        raise InvalidWebhook("url must use http or https", field="url")
    if not parsed.host:
        raise InvalidWebhook("url has no host", field="url")
    try:
        await netguard.resolve_target(parsed, allow_private=allow_private)
    except netguard.BlockedAddressError as exc:
        raise InvalidWebhook(exc.message, field="url", code="URL_NOT_ALLOWED") from exc
    except InvalidInputError:
        pass
    return str(parsed)


class WebhookService:
    """Endpoint management for one user at a time; another user's endpoint is not found."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        events: EventPublisher,
        settings: Settings,
        fair: FairShare | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.events = events
        self.settings = settings
        self.fair = fair  # the webhook endpoints quota (none checked without it)

    def _aad(self, endpoint: WebhookEndpoint, kind: str) -> bytes:
        return associated_data(endpoint.user_id, kind, endpoint.id)

    def headers_of(self, endpoint: WebhookEndpoint, *, masked: bool = True) -> dict[str, str]:
        if not endpoint.headers_ciphertext:
            return {}
        value = self.vault.decrypt_json(
            endpoint.headers_ciphertext, self._aad(endpoint, HEADERS_KIND)
        )
        return {
            str(k): (MASK if masked and SENSITIVE_HEADER.search(str(k)) else str(v))
            for k, v in dict(value).items()
        }

    def _seal_headers(self, endpoint: WebhookEndpoint, headers: dict[str, str]) -> None:
        endpoint.header_names = sorted(headers)
        endpoint.headers_ciphertext = (
            self.vault.encrypt_json(headers, self._aad(endpoint, HEADERS_KIND)) if headers else None
        )

    async def get(self, user_id: str, endpoint_id: str) -> WebhookEndpoint:
        row = await webhook_repo.get_endpoint(self.db, user_id, endpoint_id)
        if row is None:
            raise WebhookNotFound("Webhook not found")
        return row

    async def list_endpoints(self, user_id: str) -> list[WebhookEndpoint]:
        return await webhook_repo.list_endpoints(self.db, user_id)

    async def _change(
        self, user_id: str, endpoint_id: str, change: Callable[[WebhookEndpoint], None]
    ) -> WebhookEndpoint:
        row = await webhook_repo.change_endpoint(self.db, user_id, endpoint_id, change)
        if row is None:
            raise WebhookNotFound("Webhook not found")
        return row

    async def create(self, user_id: str, spec: EndpointSpec) -> tuple[WebhookEndpoint, str]:
        """The new endpoint and its signing secret (the only time it is returned)."""
        assert spec.name is not None and spec.url is not None and spec.events is not None
        if self.fair is not None:
            await self.fair.check_keep(user_id, "webhookEndpoints")
        url = await check_url(spec.url, allow_private=self.settings.allow_private_urls)
        row = WebhookEndpoint(
            user_id=user_id,
            name=spec.name,
            url=url,
            events=check_events(spec.events),
            max_attempts=spec.max_attempts or 3,
            backoff_ms=spec.backoff_ms or 1000,
            timeout_ms=spec.timeout_ms,
            rate_limit_per_second=spec.rate_limit_per_second,
            secret_ciphertext="",
        )
        secret = generate_secret()
        row.secret_ciphertext = self.vault.encrypt(secret.encode(), self._aad(row, SECRET_KIND))
        self._seal_headers(row, check_headers(spec.headers or {}))
        if spec.enabled is False:
            row.status, row.disabled_reason = "disabled", "user"
        await self.db.save(row)
        return row, secret

    async def update(self, user_id: str, endpoint_id: str, spec: EndpointSpec) -> WebhookEndpoint:
        url = (
            await check_url(spec.url, allow_private=self.settings.allow_private_urls)
            if spec.url is not None
            else None
        )
        events = check_events(spec.events) if spec.events is not None else None
        headers = check_headers(spec.headers) if spec.headers is not None else None

        def change(row: WebhookEndpoint) -> None:
            changes: dict[str, Any] = {
                "name": spec.name,
                "url": url,
                "events": events,
                "max_attempts": spec.max_attempts,
                "backoff_ms": spec.backoff_ms,
                "timeout_ms": spec.timeout_ms,
                "rate_limit_per_second": spec.rate_limit_per_second,
            }
            for key, value in changes.items():
                if value is not None:
                    setattr(row, key, value)
            if spec.clear_timeout:
                row.timeout_ms = None
            if spec.clear_rate_limit:
                row.rate_limit_per_second, row.throttle_next_at = None, None
            if headers is not None:
                self._seal_headers(row, headers)
            if spec.enabled is True and row.status == "disabled":
                # Switching back on starts with a clean health record.
                row.status, row.disabled_reason = "active", None
                row.consecutive_failures, row.failing_since = 0, None
            elif spec.enabled is False:
                row.status, row.disabled_reason = "disabled", "user"

        return await self._change(user_id, endpoint_id, change)

    async def delete(self, user_id: str, endpoint_id: str) -> None:
        """Soft delete: the delivery log stays; the secrets are wiped; deliveries stop."""

        def wipe(row: WebhookEndpoint) -> None:
            row.deleted_at = utcnow()
            row.secret_ciphertext, row.previous_secret_ciphertext = "", None
            row.headers_ciphertext = None

        await self._change(user_id, endpoint_id, wipe)

    async def rotate_secret(self, user_id: str, endpoint_id: str) -> tuple[str, datetime]:
        """A new secret; the current one keeps signing beside it until the returned time."""
        expires = utcnow() + timedelta(seconds=self.settings.webhook_secret_overlap_seconds)
        secret = generate_secret()

        def rotate(row: WebhookEndpoint) -> None:
            current = self.vault.decrypt(row.secret_ciphertext, self._aad(row, SECRET_KIND))
            row.previous_secret_ciphertext = self.vault.encrypt(
                current, self._aad(row, PREVIOUS_SECRET_KIND)
            )
            row.previous_secret_expires_at = expires
            row.secret_ciphertext = self.vault.encrypt(secret.encode(), self._aad(row, SECRET_KIND))

        await self._change(user_id, endpoint_id, rotate)
        return secret, expires

    async def send_test(self, user_id: str, endpoint_id: str) -> tuple[str, str]:
        """Deliver a ``webhook.test`` event to this endpoint only: (event id, delivery id)."""
        row = await self.get(user_id, endpoint_id)
        if row.status == "disabled":
            raise WebhookConflict("Webhook is disabled; enable it first", code="WEBHOOK_DISABLED")
        event_id = event_id_for(f"test:{endpoint_id}:{uuid.uuid4().hex}", "webhook.test")
        data = {
            "webhookId": endpoint_id,
            "message": "Test delivery from Taskyard",
            "requestedAt": utcnow().isoformat().replace("+00:00", "Z"),
        }
        await self.events.publish_one(
            user_id, "webhook.test", data, event_id, endpoint_ids=[endpoint_id]
        )
        return event_id, delivery_id_for(event_id, endpoint_id)

    def rotation_expiry(self, row: WebhookEndpoint) -> datetime | None:
        expires = as_utc(row.previous_secret_expires_at)
        if row.previous_secret_ciphertext and expires and expires > utcnow():
            return expires
        return None
