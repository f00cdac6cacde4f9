"""Keeping provider budgets across every worker process, from inside activities.

``ProviderLimits`` reserves requests from the budget's ``RateGovernorWorkflow``
(update-with-start: the first caller starts it on the ``rates`` queue, which every
worker process serves) and waits until its reservation begins. A tool call spends
one request (``acquire``); an enrichment chunk paces its requests through a
``SharedPacer`` that reserves them in blocks, so a chunk of a hundred Hunter calls
costs ten updates, not a hundred. A reservation that would start later than the
caller can wait is refused without spending anything and surfaces as a
``RateLimitedError`` with ``retry_after``: Temporal retries the activity then.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import Priority, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from connectors.errors import RateLimitedError
from engine.models import queues
from engine.models.fairness import SYSTEM
from engine.models.rate_limits import (
    RATE_GOVERNOR_WORKFLOW,
    TOOL_BUDGETS,
    UPDATE_RESERVE,
    GovernorInput,
    Reservation,
    ReserveInput,
    governor_id,
    provider_budgets,
)
from settings import Settings
from store.db import utcnow

ATTEMPTS = 3  # a governor that ended just as it was asked is started afresh


def _seconds_until(when: datetime) -> float:
    return (when - utcnow()).total_seconds()


def account_of(credentials: Mapping[str, Any], credential_id: str | None) -> str:
    """Which vendor account a call spends: its stored credential, else a hash of its secret
    values (inline secrets); never the secret itself."""
    if credential_id:
        return f"credential:{credential_id}"
    material = "\0".join(f"{k}={credentials[k]}" for k in sorted(credentials))
    return "secret:" + hashlib.sha256(material.encode()).hexdigest()


class ProviderLimits:
    """One per worker process: the operator's budgets and the governors that keep them."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.provider_rate_limits
        self.budgets = provider_budgets(settings)
        self.prefix = settings.task_queue_prefix
        self.queue = queues.task_queue(self.prefix, queues.RATES)

    async def reserve(
        self, budget_name: str, account: str, count: int, max_wait_seconds: float
    ) -> Reservation:
        budget = self.budgets[budget_name]
        request = ReserveInput(budget=budget, count=count, max_wait_seconds=max_wait_seconds)
        client = activity.client()
        for attempt in range(ATTEMPTS):
            start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
                RATE_GOVERNOR_WORKFLOW,
                GovernorInput(budget=budget),
                id=governor_id(self.prefix, budget.name, account),
                task_queue=self.queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                priority=Priority(priority_key=SYSTEM),
            )
            try:
                reservation: Reservation = await client.execute_update_with_start_workflow(
                    UPDATE_RESERVE, request, start_workflow_operation=start, result_type=Reservation
                )
                return reservation
            except (RPCError, WorkflowUpdateFailedError) as exc:
                gone = isinstance(exc, WorkflowUpdateFailedError) or exc.status in (
                    RPCStatusCode.NOT_FOUND,
                    RPCStatusCode.FAILED_PRECONDITION,
                )
                if not gone or attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def acquire(
        self, budget_name: str, account: str, *, count: int = 1, max_wait_seconds: float = 60.0
    ) -> None:
        """Wait until ``count`` requests of the budget may go for this account."""
        if not self.enabled:
            return
        reservation = await self.reserve(budget_name, account, count, max_wait_seconds)
        wait = _seconds_until(reservation.start_at)
        if not reservation.granted:
            raise RateLimitedError(
                f"the {budget_name} budget of this account is used up for now",
                retry_after=max(1.0, wait),
            )
        if wait > 0:
            await asyncio.sleep(wait)

    async def for_tool(
        self,
        tool_name: str,
        params: Mapping[str, Any],
        account: str,
        *,
        max_wait_seconds: float,
    ) -> None:
        """Spend one request of the tool's budget, if it has one (``TOOL_BUDGETS``)."""
        found = TOOL_BUDGETS.get(tool_name)
        if found is None or not self.enabled:
            return
        budget_name, narrowed_by = found
        if narrowed_by is not None:
            account = f"{account}\0{params.get(narrowed_by, '')}"
        await self.acquire(budget_name, account, max_wait_seconds=max_wait_seconds)

    def pacer(
        self, budget_name: str, account: str, *, block: int, max_wait_seconds: float
    ) -> Callable[[], Awaitable[None]] | None:
        """A ``throttle`` for a connector (None when budgets are off)."""
        if not self.enabled:
            return None
        return SharedPacer(self, budget_name, account, block, max_wait_seconds).wait


class SharedPacer:
    """Hands out request times from block reservations, in order, to concurrent callers."""

    def __init__(
        self,
        limits: ProviderLimits,
        budget_name: str,
        account: str,
        block: int,
        max_wait_seconds: float,
    ) -> None:
        self.limits = limits
        self.budget_name = budget_name
        self.account = account
        self.block = max(1, block)
        self.max_wait_seconds = max_wait_seconds
        self._times: list[datetime] = []
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            if not self._times:
                reservation = await self.limits.reserve(
                    self.budget_name, self.account, self.block, self.max_wait_seconds
                )
                if not reservation.granted:
                    raise RateLimitedError(
                        f"the {self.budget_name} budget of this key is used up for now",
                        retry_after=max(1.0, _seconds_until(reservation.start_at)),
                    )
                step = timedelta(seconds=reservation.interval_seconds)
                self._times = [reservation.start_at + step * i for i in range(self.block)]
            at = self._times.pop(0)
        wait = _seconds_until(at)
        if wait > 0:
            await asyncio.sleep(wait)
