"""Fair share on the client side: what each start carries, and every per-user quota check.

``FairShare`` is one per API process. It reads a user's overrides (fairness weight,
quotas) through a short cache, builds the ``Priority`` a start carries
(engine.models.fairness), and refuses what a quota forbids with a ``QuotaError``
naming the quota, its limit and the current use (rendered by the API as 403, or 429
for work in flight). See docs/fairness.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client
from temporalio.common import Priority

from engine.models import fairness
from engine.models.jobs import SA_JOB_TYPE, SA_USER_ID
from engine.models.quotas import (
    NOUNS,
    QUOTA_NAMES,
    RUNNING_QUOTA,
    effective,
    month_counter,
)
from engine.services.cron_interval import smallest_interval_seconds
from settings import Settings
from store import quota_repo, slot_repo
from store.db import Database
from store.errors import InvalidError, QuotaError
from store.models import User


class InvalidQuotas(InvalidError):
    code = "INVALID_QUOTAS"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _plural(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    if seconds % 60 == 0:
        return f"{seconds // 60} minute(s)"
    return f"{seconds} second(s)"


class FairShare:
    """Priorities of starts and per-user quotas for one process."""

    def __init__(self, settings: Settings, db: Database, client: Client | None = None) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.cache = quota_repo.LimitsCache(db, settings.quota_cache_seconds)

    # ---- limits ----------------------------------------------------------------------

    async def limit(self, user_id: str, name: str) -> int:
        """The user's limit for ``name`` (0: no cap)."""
        return effective(self.settings, (await self.cache.get(user_id)).quotas, name)

    async def weight(self, user_id: str) -> float:
        override = (await self.cache.get(user_id)).fairness_weight
        return override if override is not None else self.settings.fairness_default_weight

    async def priority(
        self,
        user_id: str,
        job_class: int,
        *,
        requested: str | None = None,
        app_id: str | None = None,
        end_user_id: str | None = None,
    ) -> Priority:
        """The ``Priority`` of one start: the tenant's key and weight, the class moved by the
        request's ``high``/``low``."""
        key = fairness.fairness_key(user_id, app_id=app_id, end_user_id=end_user_id)
        return fairness.job_priority(
            key,
            job_class,
            requested=requested,
            weight=await self.weight(user_id) if self.settings.fairness else None,
            fairness=self.settings.fairness,
        )

    async def set_limits(
        self,
        user_id: str,
        *,
        weight: float | None,
        clear_weight: bool,
        quotas: dict[str, int | None] | None,
    ) -> User:
        """An operator's change of a user's weight and quota overrides."""
        unknown = sorted(set(quotas or {}) - set(QUOTA_NAMES))
        if unknown:
            raise InvalidQuotas(
                f"Unknown quota(s): {', '.join(unknown)}; known: {', '.join(QUOTA_NAMES)}",
                details={"known": list(QUOTA_NAMES)},
            )
        negative = [k for k, v in (quotas or {}).items() if v is not None and v < 0]
        if negative:
            raise InvalidQuotas(f"Quotas must be 0 (no cap) or more: {', '.join(negative)}")
        user = await quota_repo.set_limits(
            self.db, user_id, weight=weight, clear_weight=clear_weight, quotas=quotas
        )
        self.cache.forget(user_id)
        return user

    # ---- refusals --------------------------------------------------------------------

    @staticmethod
    def refuse(
        name: str,
        limit: int,
        current: int,
        *,
        status: int = 403,
        retry_after: float | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> QuotaError:
        noun = NOUNS.get(name, name)
        return QuotaError(
            message or f"Quota exceeded: {current} of {limit} {noun} in use (quota {name})",
            quota=name,
            limit=limit,
            current=current,
            status=status,
            retry_after=retry_after,
            details=details,
        )

    async def check_keep(self, user_id: str, name: str) -> None:
        """403 when the user already keeps as many ``name`` (webhook endpoints, schedules)
        as allowed; counted only when capped."""
        limit = await self.limit(user_id, name)
        if not limit:
            return
        current = (await quota_repo.kept_counts(self.db, user_id, (name,)))[name]
        if current >= limit:
            raise self.refuse(name, limit, current)

    async def check_bulk(self, user_id: str, name: str, size: int) -> None:
        """403 when one request carries more items than the user may send at once."""
        limit = await self.limit(user_id, name)
        if limit and size > limit:
            raise self.refuse(
                name,
                limit,
                size,
                message=f"Quota exceeded: {size} {NOUNS[name]} sent, at most {limit} allowed "
                f"(quota {name})",
            )

    async def running(self, user_id: str, job_type: str) -> int:
        """How many of the user's jobs of a kind run now (one visibility count)."""
        assert self.client is not None
        query = (
            f"{SA_USER_ID.name} = {_quote(user_id)} AND {SA_JOB_TYPE.name} = {_quote(job_type)}"
            " AND ExecutionStatus = 'Running'"
        )
        return (await self.client.count_workflows(query)).count

    async def check_running(self, user_id: str, job_type: str, *, adding: int = 1) -> None:
        """429 when starting ``adding`` more jobs of this kind would pass the user's cap.
        Costs one visibility count, and only when the kind is capped for the user."""
        name = RUNNING_QUOTA[job_type]
        limit = await self.limit(user_id, name)
        if not limit:
            return
        current = await self.running(user_id, job_type)
        if current + adding > limit:
            raise self.refuse(
                name,
                limit,
                current,
                status=429,
                retry_after=5.0,
                message=f"Quota exceeded: {current} of {limit} {NOUNS[name]} (quota {name}); "
                "try again when one has finished",
            )

    async def check_schedule(self, user_id: str, cron: str, *, adding: bool) -> None:
        """403 when a schedule would run more often than allowed, or (``adding`` one) when
        the user already has as many as allowed."""
        if adding:
            await self.check_keep(user_id, "schedules")
        minimum = await self.limit(user_id, "scheduleMinIntervalSeconds")
        if not minimum:
            return
        try:
            interval = smallest_interval_seconds(cron)
        except ValueError:
            return  # not ours to judge: the cron check answers it as a 422
        if interval < minimum:
            raise QuotaError(
                f"Quota exceeded: {cron!r} runs every {_plural(interval)}; schedules may run "
                f"at most every {_plural(minimum)} (quota scheduleMinIntervalSeconds)",
                quota="scheduleMinIntervalSeconds",
                limit=minimum,
                current=interval,
            )

    async def take_operator_enrichment(self, user_id: str, leads: int) -> None:
        """Count ``leads`` against the user's monthly allowance on the operator's keys; 429
        (until the month turns) when it would pass the cap."""
        name = "operatorEnrichmentPerMonth"
        limit = await self.limit(user_id, name)
        counter, reset_in = month_counter()
        taken, value = await quota_repo.take(self.db, user_id, counter, leads, limit)
        if not taken:
            raise self.refuse(
                name,
                limit,
                value,
                status=429,
                retry_after=reset_in,
                message=f"Quota exceeded: {value} of {limit} {NOUNS[name]}; this batch has "
                f"{leads} (quota {name}). Pass your own provider key, or wait for next month",
                details={"requested": leads},
            )

    async def give_back_operator_enrichment(self, user_id: str, leads: int) -> None:
        counter, _reset = month_counter()
        await quota_repo.give_back(self.db, user_id, counter, leads)

    # ---- what the jobs API shows ------------------------------------------------------

    async def usage(self, user_id: str) -> dict[str, Any]:
        """Every quota's limit (None: no cap) and, where it is counted, the current use."""
        overrides = (await self.cache.get(user_id)).quotas
        limits = {n: effective(self.settings, overrides, n) for n in QUOTA_NAMES}
        capped = [k for k, n in RUNNING_QUOTA.items() if k != "workflow_run" and limits[n]]
        counter, _reset = month_counter()
        counted = asyncio.gather(*(self.running(user_id, kind) for kind in capped))
        kept = await quota_repo.kept_counts(self.db, user_id)
        slots = await slot_repo.usage(self.db, user_id)
        month = await quota_repo.counters(self.db, user_id, [counter])
        running = await counted
        out: dict[str, Any] = {"fairnessWeight": await self.weight(user_id)}
        for name in QUOTA_NAMES:
            out[name] = {"limit": limits[name] or None}
        for kind, current in zip(capped, running, strict=True):
            out[RUNNING_QUOTA[kind]]["current"] = current
        runs = out["runningWorkflowRuns"]
        if runs["limit"]:  # (runs are counted only under a cap: an uncapped execute costs nothing)
            runs["current"] = slots[0]
        runs["queued"] = slots[1]
        for name, value in kept.items():
            out[name]["current"] = value
        out["operatorEnrichmentPerMonth"].update(
            current=month[counter], enabled=self.settings.enrichment_operator_keys
        )
        return out
