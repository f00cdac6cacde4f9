"""Handing on a user's running-execution slots: release what a run held, wake who gets it.

Used by the run's finishing activity (the common case) and by the API when it finds
stale slots or starts a run that was granted a slot while it was being started. A
granted run is woken with the ``slot_granted`` signal; a run that no longer exists
gives its slot back, unless it was recorded moments ago — then its starter is still
starting it and signals it itself once it has (``RunSlots.start`` in the API).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engine.models.quotas import effective
from engine.models.runs import SIGNAL_SLOT_GRANTED
from settings import Settings
from store import slot_repo
from store.db import Database, utcnow
from store.quota_repo import LimitsCache

STARTING = timedelta(seconds=60)  # a record younger than this may not have its workflow yet


class SlotKeeper:
    """One per process: the cap of each user (override or setting) and the hand-over."""

    def __init__(self, db: Database, settings: Settings, limits: LimitsCache | None = None):
        self.db = db
        self.settings = settings
        self.limits = limits or LimitsCache(db, settings.quota_cache_seconds)

    async def limit(self, user_id: str) -> int:
        overrides = (await self.limits.get(user_id)).quotas
        return effective(self.settings, overrides, "runningWorkflowRuns")

    async def release(self, client: Client, user_id: str, execution_id: str) -> None:
        """The run ended (or never started): free what it held and wake who gets it."""
        granted = await slot_repo.release(self.db, execution_id, await self.limit(user_id))
        await self.wake(client, user_id, granted)

    async def wake(self, client: Client, user_id: str, granted: list[str]) -> None:
        pending = list(granted)
        while pending:
            execution_id = pending.pop(0)
            try:
                await client.get_workflow_handle(execution_id).signal(SIGNAL_SLOT_GRANTED)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                if await self._starting(execution_id):
                    continue  # its starter wakes it once the workflow exists
                pending += await slot_repo.release(self.db, execution_id, await self.limit(user_id))

    async def _starting(self, execution_id: str) -> bool:
        created = await slot_repo.recorded_at(self.db, execution_id)
        return created is not None and utcnow() - created < STARTING
