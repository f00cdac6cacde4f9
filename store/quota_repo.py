"""Queries of fair share: a user's weight and quota overrides, and usage counters.

A counter is one row per user and name (``running:workflow_run``,
``operator_enrichment:2026-05``). ``take`` raises it only while the result stays
within the limit, in one conditional ``UPDATE``, so two API processes racing for a
user's last unit never both get it (on SQLite and on PostgreSQL alike).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, or_
from sqlmodel import Field, SQLModel, col, func, select, update

from store.db import Database, dialect_insert, utcnow
from store.errors import NotFoundError
from store.models import ApiKey, User
from store.webhooks import WebhookEndpoint
from store.workflows import WorkflowSchedule


class UsageCounter(SQLModel, table=True):
    """How much of a counted quota a user holds now (running runs, this month's leads)."""

    __tablename__ = "usage_counters"

    user_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(primary_key=True, max_length=64)
    value: int = 0
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class UserNotFound(NotFoundError):
    code = "USER_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("User not found")


@dataclass(frozen=True)
class UserLimits:
    """An operator's overrides for one user (None / missing keys: the settings' values)."""

    fairness_weight: float | None = None
    quotas: dict[str, int] = field(default_factory=dict)


async def get_limits(db: Database, user_id: str) -> UserLimits:
    async with db.session() as session:
        row = (
            await session.exec(select(User.fairness_weight, User.quotas).where(User.id == user_id))
        ).first()
    if row is None:
        return UserLimits()
    weight, quotas = row
    return UserLimits(weight, dict(quotas or {}))


async def set_limits(
    db: Database,
    user_id: str,
    *,
    weight: float | None = None,
    clear_weight: bool = False,
    quotas: dict[str, int | None] | None = None,
) -> User:
    """Change a user's overrides: ``weight`` sets it, ``clear_weight`` drops it; each quota
    named in ``quotas`` is set, or dropped when None. UserNotFound for an unknown user."""
    async with db.session() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise UserNotFound()
        if clear_weight:
            user.fairness_weight = None
        elif weight is not None:
            user.fairness_weight = weight
        if quotas:
            merged: dict[str, Any] = dict(user.quotas or {})
            for name, value in quotas.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            user.quotas = merged or None
        session.add(user)
        await session.commit()
        await session.refresh(user)
    return user


class LimitsCache:
    """Each process trusts a user's overrides for ``ttl`` seconds: starts read them often,
    operators change them rarely (a change is seen everywhere within ``ttl``)."""

    def __init__(self, db: Database, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self._seen: dict[str, tuple[float, UserLimits]] = {}

    async def get(self, user_id: str) -> UserLimits:
        now = time.monotonic()
        hit = self._seen.get(user_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        limits = await get_limits(self.db, user_id)
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[user_id] = (now, limits)
        return limits

    def forget(self, user_id: str) -> None:
        self._seen.pop(user_id, None)


async def _ensure(session: Any, user_id: str, name: str) -> None:
    insert = dialect_insert(session, UsageCounter).values(
        user_id=user_id, name=name, value=0, updated_at=utcnow()
    )
    await session.exec(insert.on_conflict_do_nothing(index_elements=["user_id", "name"]))


async def value_in(session: Any, user_id: str, name: str) -> int:
    found = (
        await session.exec(
            select(UsageCounter.value).where(
                UsageCounter.user_id == user_id, UsageCounter.name == name
            )
        )
    ).first()
    return int(found or 0)


async def take_in(session: Any, user_id: str, name: str, amount: int, limit: int) -> bool:
    """Within an open session: raise the counter by ``amount`` if it stays within ``limit``
    (``limit`` <= 0: always). Whether it was raised."""
    await _ensure(session, user_id, name)
    statement = update(UsageCounter).where(
        col(UsageCounter.user_id) == user_id, col(UsageCounter.name) == name
    )
    if limit > 0:
        statement = statement.where(col(UsageCounter.value) + amount <= limit)
    result = await session.exec(
        statement.values(value=col(UsageCounter.value) + amount, updated_at=utcnow())
    )
    return bool(result.rowcount == 1)


async def give_back_in(session: Any, user_id: str, name: str, amount: int) -> None:
    """Within an open session: lower the counter by ``amount``, never below zero."""
    await session.exec(
        update(UsageCounter)
        .where(col(UsageCounter.user_id) == user_id, col(UsageCounter.name) == name)
        .values(
            value=func.max(col(UsageCounter.value) - amount, 0)
            if session.bind.dialect.name == "sqlite"
            else func.greatest(col(UsageCounter.value) - amount, 0),
            updated_at=utcnow(),
        )
    )


async def take(db: Database, user_id: str, name: str, amount: int, limit: int) -> tuple[bool, int]:
    """Raise ``name`` by ``amount`` if it stays within ``limit``: (taken, value after)."""
    async with db.session() as session:
        taken = await take_in(session, user_id, name, amount, limit)
        value = await value_in(session, user_id, name)
        await session.commit()
    return taken, value


async def give_back(db: Database, user_id: str, name: str, amount: int) -> None:
    async with db.session() as session:
        await give_back_in(session, user_id, name, amount)
        await session.commit()


async def counters(db: Database, user_id: str, names: list[str]) -> dict[str, int]:
    """The values of ``names`` (0 for a counter never raised)."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(UsageCounter.name, UsageCounter.value).where(
                    UsageCounter.user_id == user_id, col(UsageCounter.name).in_(names)
                )
            )
        ).all()
    found = {name: int(value) for name, value in rows}
    return {name: found.get(name, 0) for name in names}


KEPT: tuple[str, ...] = ("webhookEndpoints", "schedules", "activeApiKeys")


def _kept_query(name: str, user_id: str) -> Any:
    if name == "webhookEndpoints":
        return (
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.user_id == user_id)
        )
    if name == "schedules":
        return (
            select(func.count())
            .select_from(WorkflowSchedule)
            .where(WorkflowSchedule.user_id == user_id)
        )
    return (
        select(func.count())
        .select_from(ApiKey)
        .where(
            ApiKey.user_id == user_id,
            col(ApiKey.is_active).is_(True),
            or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > utcnow()),
        )
    )


async def kept_counts(db: Database, user_id: str, names: tuple[str, ...] = KEPT) -> dict[str, int]:
    """What a user keeps, as the quotas count it: webhook endpoints, schedules, and API keys
    that are active and unexpired."""
    async with db.session() as session:
        return {n: int((await session.exec(_kept_query(n, user_id))).one()) for n in names}
