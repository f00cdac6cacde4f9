"""One webhook delivery attempt: load, sign, POST through netguard, record, judge.

The activity never raises for what the receiver did (a 500, a timeout, a
refused connection): it records the attempt and returns the verdict and the
wait before the next try, so the workflow owns the retry schedule. It raises
only when Taskyard itself could not do its part (database down), and Temporal
retries that.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import httpx
from pydantic import BaseModel
from temporalio import activity

from activities.heartbeat import heartbeating
from activities.webhook_signing import payload, signed_headers
from connectors import netguard
from connectors.errors import InvalidInputError, retry_after_seconds
from engine.models.metrics import WEBHOOK_ATTEMPTS
from engine.models.webhooks import (
    ATTEMPT_DELIVERY,
    MARK_DELIVERY,
    AttemptInput,
    AttemptOutput,
    DeliveryPolicy,
    MarkDeliveryInput,
    Outcome,
)
from store import delivery_repo
from store.db import Database, as_utc, utcnow
from store.delivery_repo import AttemptRecord, HealthPolicy
from store.vault import Vault, associated_data
from store.webhooks import (
    HEADERS_KIND,
    PREVIOUS_SECRET_KIND,
    SECRET_KIND,
    WebhookEndpoint,
    WebhookEvent,
)

SNIPPET_BYTES = 1024
INLINE_THROTTLE_WAIT = 1.0  # shorter waits for a throttle slot happen inside the activity


def backoff_seconds(
    attempt: int, backoff_ms: int, jitter: float, retry_after: float | None, cap: float
) -> float:
    """Wait after failed attempt ``attempt`` (1-based): ``backoffMs · 2^(attempt-1)`` stretched
    by up to 25 % jitter, at least ``Retry-After`` when the receiver sent one, at most ``cap``."""
    nominal = backoff_ms / 1000.0 * (2 ** (attempt - 1))
    delay = min(cap, nominal * (1.0 + 0.25 * max(0.0, min(1.0, jitter))))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return round(delay, 3)


class Verdict(BaseModel):
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    gone: bool = False
    snippet: str | None = None


def judge(status: int, retry_after: str | None, snippet: str) -> Verdict:
    if 200 <= status < 300:
        return Verdict(outcome="delivered", status_code=status, snippet=snippet)
    if status == 410:
        return Verdict(
            outcome="failed",
            status_code=status,
            gone=True,
            snippet=snippet,
            error="HTTP 410 Gone: endpoint disabled",
        )
    error = f"HTTP {status}"
    if status in netguard.REDIRECT_CODES:
        error += ": redirect not followed"
    after = retry_after_seconds(retry_after, utcnow()) if status in (429, 503) else None
    return Verdict(
        outcome="retry", status_code=status, error=error, retry_after=after, snippet=snippet
    )


class WebhookDeliveryActivities:
    """Holds the database, the vault, the operator's policy and one pooled HTTP client."""

    def __init__(self, db: Database, vault: Vault, policy: DeliveryPolicy) -> None:
        self.db = db
        self.vault = vault
        self.policy = policy
        self.health = HealthPolicy(
            error_after_failures=policy.error_after_failures,
            disable_after_seconds=policy.disable_after_seconds,
        )
        self._http: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
            self._http = httpx.AsyncClient(limits=limits)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    @activity.defn(name=ATTEMPT_DELIVERY)
    async def attempt_webhook_delivery(self, data: AttemptInput) -> AttemptOutput:
        # Heartbeat through all of it: a busy database must not look like a dead worker.
        return await heartbeating(self._attempt(data))

    async def _attempt(self, data: AttemptInput) -> AttemptOutput:
        endpoint, event = await delivery_repo.load_target(self.db, data.endpoint_id, data.event_id)
        if endpoint is None or endpoint.user_id != data.user_id or endpoint.deleted_at is not None:
            return await self._skip(data, "endpoint was deleted")
        if endpoint.status == "disabled":
            return await self._skip(data, "endpoint is disabled")
        if event is None:
            return await self._skip(data, "event record is missing")
        if endpoint.rate_limit_per_second and not data.slot_reserved:
            wait = await delivery_repo.claim_slot(
                self.db, endpoint.id, endpoint.rate_limit_per_second
            )
            if wait > INLINE_THROTTLE_WAIT:
                return AttemptOutput(
                    outcome="throttled", delay_seconds=wait, max_attempts=endpoint.max_attempts
                )
            if wait > 0:
                await asyncio.sleep(wait)
        verdict, started, duration_ms = await self._send(data, endpoint, event)
        delay = 0.0
        if verdict.outcome == "retry":
            delay = backoff_seconds(
                data.attempt,
                endpoint.backoff_ms,
                data.jitter,
                verdict.retry_after,
                self.policy.max_backoff_seconds,
            )
        recorded = await delivery_repo.record_attempt(
            self.db,
            AttemptRecord(
                delivery_id=data.delivery_id,
                round=data.round,
                attempt=data.attempt,
                workflow_time=data.workflow_time,
                started=started,
                duration_ms=duration_ms,
                status_code=verdict.status_code,
                error=verdict.error,
                snippet=verdict.snippet,
            ),
            endpoint,
            self.health,
            delivered=verdict.outcome == "delivered",
            retry=verdict.outcome == "retry",
            gone=verdict.gone,
            delay=delay,
        )
        final = recorded.final
        outcome: Outcome = "failed" if (final and verdict.outcome == "retry") else verdict.outcome
        WEBHOOK_ATTEMPTS.labels(outcome).inc()
        return AttemptOutput(
            outcome=outcome,
            final=final,
            attempted=True,
            exhausted=recorded.exhausted,
            status_code=verdict.status_code,
            error=recorded.error,
            delay_seconds=0.0 if final else delay,
            max_attempts=endpoint.max_attempts,
            endpoint_disabled=recorded.disabled_reason is not None,
            disabled_reason=recorded.disabled_reason,
        )

    async def _skip(self, data: AttemptInput, reason: str) -> AttemptOutput:
        """The delivery cannot be attempted at all (endpoint gone or off): it fails, no
        request."""
        await delivery_repo.mark_delivery(self.db, data.delivery_id, "failed", reason)
        return AttemptOutput(outcome="failed", final=True, error=reason)

    @activity.defn(name=MARK_DELIVERY)
    async def mark_webhook_delivery(self, data: MarkDeliveryInput) -> None:
        """Close a delivery the workflow ended without an attempt verdict (cancelled)."""
        await delivery_repo.mark_delivery(self.db, data.delivery_id, data.status, data.error)

    def _secrets(self, endpoint: WebhookEndpoint) -> list[str]:
        owner, record = endpoint.user_id, endpoint.id
        current = self.vault.decrypt(
            endpoint.secret_ciphertext, associated_data(owner, SECRET_KIND, record)
        ).decode()
        found = [current]
        expires = as_utc(endpoint.previous_secret_expires_at)
        if endpoint.previous_secret_ciphertext and expires and expires > utcnow():
            found.append(
                self.vault.decrypt(
                    endpoint.previous_secret_ciphertext,
                    associated_data(owner, PREVIOUS_SECRET_KIND, record),
                ).decode()
            )
        return found

    def _headers(self, endpoint: WebhookEndpoint) -> dict[str, str]:
        if not endpoint.headers_ciphertext:
            return {}
        value = self.vault.decrypt_json(
            endpoint.headers_ciphertext,
            associated_data(endpoint.user_id, HEADERS_KIND, endpoint.id),
        )
        return {str(k): str(v) for k, v in dict(value).items()}

    async def _send(
        self, data: AttemptInput, endpoint: WebhookEndpoint, event: WebhookEvent
    ) -> tuple[Verdict, datetime, int]:
        body = payload(event.name, as_utc(event.occurred_at) or utcnow(), event.data)
        started = utcnow()
        headers = signed_headers(
            self._secrets(endpoint),
            delivery_id=data.delivery_id,
            event=event.name,
            body=body,
            timestamp=int(started.timestamp()),
            attempt=data.attempt,
            custom=self._headers(endpoint),
        )
        timeout = (
            (endpoint.timeout_ms / 1000.0) if endpoint.timeout_ms else (self.policy.timeout_seconds)
        )
        clock = time.perf_counter()
        try:
            verdict = await self._post(endpoint.url, headers, body, timeout)
        except netguard.BlockedAddressError as exc:
            verdict = Verdict(outcome="failed", error=exc.message)
        except InvalidInputError as exc:
            verdict = Verdict(outcome="retry", error=exc.message)
        except httpx.TimeoutException:
            verdict = Verdict(outcome="retry", error=f"timed out after {timeout:g}s")
        except httpx.HTTPError as exc:
            verdict = Verdict(outcome="retry", error=f"connection failed: {type(exc).__name__}")
        return verdict, started, int((time.perf_counter() - clock) * 1000)

    async def _post(
        self, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Verdict:
        async def exchange() -> Verdict:
            response = await netguard.send(
                self.http(),
                "POST",
                url,
                allow_private=self.policy.allow_private_urls,
                headers=headers,
                content=body,
                timeout=timeout,
                max_redirects=0,
            )
            try:
                raw = b""
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) >= SNIPPET_BYTES:
                        break
            finally:
                await response.aclose()
            snippet = raw[:SNIPPET_BYTES].decode("utf-8", errors="replace")
            return judge(response.status_code, response.headers.get("retry-after"), snippet)

        # The whole exchange (connect, headers, snippet) must fit the endpoint's timeout.
        try:
            return await asyncio.wait_for(exchange(), timeout)
        except TimeoutError as exc:
            raise httpx.TimeoutException("attempt timed out") from exc
