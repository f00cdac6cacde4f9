"""Enrichment activities: materialize a batch's leads, enrich one chunk, close a batch.

Workflows pass a batch id and a range of positions; the leads, the providers'
answers and API keys never enter workflow history. A chunk is enriched in
provider-sized sub-batches, each written in its own transaction (see
``store.enrichment_repo``), heartbeating throughout so a cancel or a dead worker
is noticed within the heartbeat timeout. Short rate-limit waits (``Retry-After``)
are slept here; long ones go back to Temporal as a retry with that delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.errors import to_application_error
from activities.heartbeat import heartbeating
from activities.rate_limits import ProviderLimits
from activities.secrets import SecretStore
from connectors.base import ActionContext
from connectors.enrichment import PersonMatch, PersonQuery, Provider
from connectors.errors import AuthError, ConnectorError, InvalidInputError, RateLimitedError
from connectors.providers import get_provider
from engine.models.enrichment import (
    ENRICH_CHUNK,
    FINISH_BATCH,
    PREPARE_BATCH,
    BatchCounts,
    EnrichChunkInput,
    FinishBatchInput,
    PrepareBatchInput,
    PrepareBatchOutput,
)
from store.db import Database
from store.enrichment_repo import (
    CANCELLED,
    FAILED,
    LeadResult,
    close_pending,
    counts,
    get_batch,
    pending_chunk,
    prepare_items,
    write_results,
)
from store.leads import EnrichmentBatch, Lead

MAX_INLINE_WAIT_SECONDS = 30.0
INLINE_RATE_LIMIT_RETRIES = 5
KEY_FIELDS = ("api_key", "apiKey", "key", "token")


def _not_found(batch_id: str) -> ApplicationError:
    return ApplicationError(
        f"enrichment batch {batch_id} not found", type="NotFoundError", non_retryable=True
    )


def person_of(seq: int, lead: Lead) -> PersonQuery:
    return PersonQuery(
        ref=str(seq),
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        job_title=lead.job_title,
        phone=lead.phone,
        linkedin_url=lead.linkedin_url,
        location=lead.location,
    )


def merge_matches(
    results: dict[int, LeadResult], provider: str, matches: list[PersonMatch]
) -> None:
    """Later providers' suggestions override earlier ones; errors are kept per provider."""
    for match in matches:
        result = results.get(int(match.ref))
        if result is None:
            continue
        result.statuses[provider] = match.status
        if match.status == "error":
            result.data[provider] = {"status": "error", "error": match.error}
            continue
        result.data[provider] = {"status": match.status, **match.data}
        result.suggestions.update(match.fields)


class EnrichmentActivities:
    """Holds the database, the secret store, vendor base URLs and operator-level keys."""

    def __init__(
        self,
        db: Database,
        secrets: SecretStore,
        *,
        base_urls: Mapping[str, str],
        fallback_keys: Mapping[str, str],
        config: Mapping[str, Any],
        sub_batch_sizes: Mapping[str, int] | None = None,
        timeout_seconds: float = 30.0,
        heartbeat_interval: float = 1.0,
        limits: ProviderLimits | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.base_urls = dict(base_urls)
        self.fallback_keys = dict(fallback_keys)
        self.config = dict(config)
        self.sub_batch_sizes = dict(sub_batch_sizes or {})
        self.timeout_seconds = timeout_seconds
        self.heartbeat_interval = heartbeat_interval
        self.limits = limits  # provider budgets shared by every worker (Hunter, PDL)

    @classmethod
    def from_deps(cls, deps: ActivityDeps) -> EnrichmentActivities:
        s = deps.settings
        # The operator's keys bill the operator: used only when the operator allows it.
        keys = {"hunter": s.hunter_api_key, "pdl": s.pdl_api_key}
        if not s.enrichment_operator_keys:
            keys = {}
        return cls(
            deps.db,
            deps.secrets,
            base_urls=s.base_urls(),
            fallback_keys={k: v.get_secret_value() for k, v in keys.items() if v is not None},
            config={
                "default_phone_region": s.default_phone_region,
                "hunter": {"requests_per_second": s.hunter_requests_per_second},
            },
            sub_batch_sizes={"pdl": max(1, min(100, s.pdl_bulk_size))},
            timeout_seconds=s.http_timeout_seconds,
            limits=ProviderLimits(s),
        )

    @activity.defn(name=PREPARE_BATCH)
    async def prepare_enrichment_batch(self, data: PrepareBatchInput) -> PrepareBatchOutput:
        try:
            total = await heartbeating(
                prepare_items(self.db, data.batch_id, data.user_id), self.heartbeat_interval
            )
        except LookupError:
            raise _not_found(data.batch_id) from None
        return PrepareBatchOutput(total=total)

    @activity.defn(name=ENRICH_CHUNK)
    async def enrich_leads_chunk(self, data: EnrichChunkInput) -> BatchCounts:
        batch = await get_batch(self.db, data.user_id, data.batch_id)
        if batch is None:
            raise _not_found(data.batch_id)
        try:
            providers = self._providers(batch)
            contexts = {p.name: await self._context(batch, p) for p in providers}
            rows = await heartbeating(
                pending_chunk(self.db, batch.id, data.start, data.limit), self.heartbeat_interval
            )
            size = min(self.sub_batch_sizes.get(p.name, p.batch_size) for p in providers)
            allowed = set(batch.fields)
            for offset in range(0, len(rows), max(1, size)):
                part = rows[offset : offset + size]
                results = await self._enrich(part, providers, contexts)
                await heartbeating(
                    write_results(
                        self.db,
                        batch.id,
                        batch.user_id,
                        list(results.values()),
                        allowed=allowed,
                        overwrite=batch.overwrite,
                    ),
                    self.heartbeat_interval,
                )
                activity.heartbeat(data.start + offset + len(part))
        except ConnectorError as exc:
            raise to_application_error(exc) from None
        return await self._counts(batch.id)

    @activity.defn(name=FINISH_BATCH)
    async def finish_enrichment_batch(self, data: FinishBatchInput) -> BatchCounts:
        if data.outcome != "completed":
            status = CANCELLED if data.outcome == "cancelled" else FAILED
            error = "Batch cancelled before this lead" if status == CANCELLED else data.error
            await close_pending(self.db, data.batch_id, status, error)
        return await self._counts(data.batch_id)

    async def _counts(self, batch_id: str) -> BatchCounts:
        found = await counts(self.db, batch_id)
        return BatchCounts(total=sum(found.values()), **found)

    def _providers(self, batch: EnrichmentBatch) -> list[Provider]:
        chosen: list[Provider] = []
        for name in batch.providers:
            provider = get_provider(name)
            if provider is None:
                raise InvalidInputError(f"unknown enrichment provider {name!r}")
            chosen.append(provider)
        return chosen

    async def _context(self, batch: EnrichmentBatch, provider: Provider) -> ActionContext:
        key: str | None = None
        if provider.needs_key:
            key = await self._key(batch, provider.name)
        return ActionContext(
            credentials={"api_key": key} if key else {},
            config={**self.config, **self.config.get(provider.name, {})},
            base_urls=self.base_urls,
            timeout_seconds=self.timeout_seconds,
            heartbeat=activity.heartbeat,
            throttle=self._throttle(provider.name, key),
        )

    def _throttle(self, provider: str, key: str | None) -> Callable[[], Awaitable[None]] | None:
        """The key's request budget, kept with every other worker's calls on that key."""
        if self.limits is None or key is None or provider not in self.limits.budgets:
            return None
        budget = self.limits.budgets[provider]
        # One reservation per second's worth of requests (Hunter: ten), or per request.
        block = max(1, int(budget.rate / budget.per_seconds)) if budget.burst == 1 else 1
        return self.limits.pacer(
            provider, f"key:{key}", block=block, max_wait_seconds=MAX_INLINE_WAIT_SECONDS
        )

    async def _key(self, batch: EnrichmentBatch, provider: str) -> str:
        """A credential named for the provider, else the batch's sealed key, else the operator's."""
        values: Mapping[str, Any] = {}
        credential_id = batch.credential_ids.get(provider)
        if credential_id:
            values = await self.secrets.open_credential(batch.user_id, credential_id)
        elif batch.sealed_secret_id:
            sealed = await self.secrets.open_sealed(batch.user_id, batch.sealed_secret_id)
            values = {"api_key": sealed.get(provider)}
        else:
            values = {"api_key": self.fallback_keys.get(provider)}
        for name in KEY_FIELDS:
            if values.get(name):
                return str(values[name])
        raise AuthError(f"no API key for enrichment provider {provider!r}")

    async def _enrich(
        self,
        part: list[tuple[int, str, Lead | None]],
        providers: list[Provider],
        contexts: Mapping[str, ActionContext],
    ) -> dict[int, LeadResult]:
        results = {seq: LeadResult(seq=seq, lead_id=lead_id) for seq, lead_id, _ in part}
        people = [person_of(seq, lead) for seq, _, lead in part if lead is not None]
        for seq, _, lead in part:
            if lead is None:
                results[seq].error = "Lead not found"
        if people:
            for provider in providers:
                matches = await self._call(provider, contexts[provider.name], people)
                merge_matches(results, provider.name, matches)
        for result in results.values():
            if result.statuses and all(s == "error" for s in result.statuses.values()):
                result.error = "; ".join(
                    str(d.get("error")) for d in result.data.values() if d.get("error")
                )
        return results

    async def _call(
        self, provider: Provider, ctx: ActionContext, people: list[PersonQuery]
    ) -> list[PersonMatch]:
        for attempt in range(INLINE_RATE_LIMIT_RETRIES + 1):
            try:
                return await heartbeating(provider.enrich(ctx, people), self.heartbeat_interval)
            except RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else float(2**attempt)
                if wait > MAX_INLINE_WAIT_SECONDS or attempt == INLINE_RATE_LIMIT_RETRIES:
                    raise
                activity.logger.info("%s rate limited; waiting %.1fs", provider.name, wait)
                await heartbeating(asyncio.sleep(wait), self.heartbeat_interval)
        raise RateLimitedError(f"{provider.name} kept rate limiting")
