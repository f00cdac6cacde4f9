"""Webhook tables: endpoints, the events they were sent, deliveries and every attempt.

Signing secrets and custom headers (which often carry a receiver's own token)
are stored encrypted with the vault; only the delivery activity opens them, so
they never enter workflow history. Event payloads live here too and workflows
carry event ids, so a large job output is never copied into every delivery's
history.

``webhook_summary`` is the ``webhooks`` section of ``GET /api/v2/users/integrations``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from sqlalchemy import JSON, Column, DateTime, Index, Text
from sqlalchemy import select as sa_select
from sqlmodel import Field, SQLModel, col, select

from store import rotation
from store.db import Database, utcnow
from store.models import new_id
from store.vault import associated_data

EndpointStatus = Literal["active", "error", "disabled"]
DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed", "cancelled"]
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "retrying", "succeeded", "failed", "cancelled")

# Vault "kind"s: associated data binds each ciphertext to its owner and endpoint.
SECRET_KIND = "webhook-secret"
PREVIOUS_SECRET_KIND = "webhook-secret-previous"
HEADERS_KIND = "webhook-headers"


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kw))


def _opt_ts() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class WebhookEndpoint(SQLModel, table=True):
    """A user's receiver. ``status`` is health (active/error) or ``disabled`` (with a reason)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_user_created", "user_id", "created_at"),)

    id: str = Field(default_factory=lambda: new_id("wh_", 12), primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    name: str = Field(max_length=200)
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    headers_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    header_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret_ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    previous_secret_ciphertext: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )
    previous_secret_expires_at: datetime | None = _opt_ts()
    max_attempts: int = 3
    backoff_ms: int = 1000
    timeout_ms: int | None = None
    rate_limit_per_second: float | None = None
    throttle_next_at: float | None = None  # epoch seconds of the next free send slot
    status: str = Field(default="active", max_length=20)
    disabled_reason: str | None = Field(default=None, max_length=20)
    consecutive_failures: int = 0
    failing_since: datetime | None = _opt_ts()
    last_success_at: datetime | None = _opt_ts()
    last_failure_at: datetime | None = _opt_ts()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    deleted_at: datetime | None = _opt_ts()


class WebhookEvent(SQLModel, table=True):
    """One event as it was emitted; its id is derived from the job that emitted it."""

    __tablename__ = "webhook_events"

    id: str = Field(primary_key=True, max_length=80)
    user_id: str = Field(index=True, max_length=40)
    name: str = Field(max_length=100)
    occurred_at: datetime = _ts(nullable=False)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """One (event, endpoint) pair; its id is the ``webhook_delivery`` workflow id.

    ``round`` counts manual redeliveries (retry, recover): each is a new run of
    the same workflow id, so receivers see the same delivery id again.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status"),
    )

    id: str = Field(primary_key=True, max_length=80)
    user_id: str = Field(index=True, max_length=40)
    endpoint_id: str = Field(max_length=40)
    event_id: str = Field(max_length=80)
    event: str = Field(max_length=100)
    status: str = Field(default="pending", max_length=20)
    round: int = 0
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime | None = _opt_ts()
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _opt_ts()


class WebhookAttempt(SQLModel, table=True):
    """One HTTP request made for a delivery (a crash-retried activity may add a second)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "started_at"),)

    id: str = Field(default_factory=lambda: new_id("wha_", 12), primary_key=True, max_length=40)
    delivery_id: str = Field(max_length=80)
    round: int = 0
    attempt: int = 1
    started_at: datetime = _ts(nullable=False)
    duration_ms: int = 0
    status_code: int | None = None
    response_snippet: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WebhookSummary(BaseModel):
    """The ``webhooks`` object of the user-integrations API's integrations response."""

    configured: bool
    endpoints: list[str]
    status: Literal["active", "error", "inactive"]


def summary_of(endpoints: list[WebhookEndpoint]) -> WebhookSummary:
    """Any endpoint failing (or switched off by failures) is ``error``; none enabled is
    ``inactive``; otherwise ``active``."""
    if not endpoints:
        return WebhookSummary(configured=False, endpoints=[], status="inactive")
    failing = any(
        e.status == "error" or (e.status == "disabled" and e.disabled_reason != "user")
        for e in endpoints
    )
    enabled = any(e.status != "disabled" for e in endpoints)
    status: Literal["active", "error", "inactive"] = (
        "error" if failing else "active" if enabled else "inactive"
    )
    return WebhookSummary(configured=True, endpoints=[e.url for e in endpoints], status=status)


async def webhook_summary(db: Database, user_id: str) -> WebhookSummary:
    """Whether the user has endpoints, their URLs, and their overall health."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(WebhookEndpoint)
                .where(
                    WebhookEndpoint.user_id == user_id, col(WebhookEndpoint.deleted_at).is_(None)
                )
                .order_by(col(WebhookEndpoint.created_at))
            )
        ).all()
    return summary_of(list(rows))


def subscribes(patterns: list[str], event: str) -> bool:
    """``*`` matches every event, ``lead.*`` every event under ``lead.``, else exact names."""
    for pattern in patterns:
        if pattern == "*" or pattern == event:
            return True
        if pattern.endswith(".*") and event.startswith(pattern[:-1]):
            return True
    return False


class Subscription(Protocol):
    id: str
    events: list[str]
    url: str


async def live_subscriptions(session: Any, user_id: str) -> list[Subscription]:
    """Id, event patterns and URL of each endpoint that may receive deliveries (not deleted,
    not disabled): what publishing an event needs."""
    statement = sa_select(
        col(WebhookEndpoint.id), col(WebhookEndpoint.events), col(WebhookEndpoint.url)
    ).where(
        col(WebhookEndpoint.user_id) == user_id,
        col(WebhookEndpoint.deleted_at).is_(None),
        col(WebhookEndpoint.status) != "disabled",
    )
    return list((await session.exec(statement)).all())


# Key rotation (store/rotation.py): every encrypted column of this module, with its AAD.
rotation.register(
    WebhookEndpoint,
    "secret_ciphertext",
    lambda r: associated_data(r["user_id"], SECRET_KIND, r["id"]),
)
rotation.register(
    WebhookEndpoint,
    "previous_secret_ciphertext",
    lambda r: associated_data(r["user_id"], PREVIOUS_SECRET_KIND, r["id"]),
)
rotation.register(
    WebhookEndpoint,
    "headers_ciphertext",
    lambda r: associated_data(r["user_id"], HEADERS_KIND, r["id"]),
)
