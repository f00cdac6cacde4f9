"""A user's running-executions cap, on the API's side: claim a slot or queue the run.

Under the cap (``runningWorkflowRuns``, 0 = none) an execute takes one of the
user's slots in the database and starts as usual; at the cap the run starts
queued: a ``pending`` job saying why, which waits for the ``slot_granted``
signal that the finishing activity of an earlier run sends. No visibility call
is made on either path. Only at the cap are the user's slot holders checked
against Temporal once (a run terminated from the outside never released its
slot), and the stale ones handed on.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

from activities.run_slots import STARTING, SlotKeeper
from engine.models.runs import WorkflowRunInput
from store import slot_repo
from store.db import Database, utcnow

IN_CHUNK = 100  # workflow ids per visibility query


@dataclass(frozen=True)
class Placement:
    """How a run was placed: ``message`` says why it waits (None: it runs now)."""

    counted: bool
    queued: bool
    message: str | None = None


def waiting_message(running: int) -> str:
    return f"waiting: {running} of your executions are running"


class RunSlots:
    def __init__(self, client: Client, db: Database, keeper: SlotKeeper) -> None:
        self.client = client
        self.db = db
        self.keeper = keeper

    async def place(self, user_id: str, execution_id: str, run: WorkflowRunInput) -> Placement:
        """Claim a slot for a recorded execution, or queue it; marks ``run`` to match."""
        limit = await self.keeper.limit(user_id)
        if not limit:
            return Placement(counted=False, queued=False)
        claim = await slot_repo.claim(self.db, user_id, execution_id, limit)
        if claim.queued:
            claim = await self._reconcile(user_id, execution_id, limit, claim)
        run.counted, run.queued = True, claim.queued
        message = waiting_message(claim.running) if claim.queued else None
        return Placement(counted=True, queued=claim.queued, message=message)

    async def started(self, user_id: str, execution_id: str, placement: Placement) -> None:
        """After a queued run's workflow exists: wake it if it was granted a slot while it
        was being started (the granting run could not signal it yet)."""
        if placement.queued:
            if await slot_repo.slot_of(self.db, execution_id) == slot_repo.RUNNING:
                await self.keeper.wake(self.client, user_id, [execution_id])

    async def not_started(self, user_id: str, execution_id: str, placement: Placement) -> None:
        """The start failed: give back what the record held."""
        if placement.counted:
            await self.keeper.release(self.client, user_id, execution_id)

    async def _reconcile(
        self, user_id: str, execution_id: str, limit: int, claim: slot_repo.Claim
    ) -> slot_repo.Claim:
        """At the cap: release slots whose runs Temporal no longer runs, hand them on, and
        say whether this execution got one."""
        holders = await slot_repo.holders(self.db, user_id, before=utcnow() - STARTING)
        if not holders:
            return claim
        alive: set[str] = set()
        for i in range(0, len(holders), IN_CHUNK):
            ids = ", ".join(f"'{h}'" for h in holders[i : i + IN_CHUNK])
            async for execution in self.client.list_workflows(
                f"WorkflowId IN ({ids}) AND ExecutionStatus = 'Running'"
            ):
                alive.add(execution.id)
        granted: list[str] = []
        for stale in (h for h in holders if h not in alive):
            granted += await slot_repo.release(self.db, stale, limit)
        if not granted:
            return claim
        await self.keeper.wake(self.client, user_id, [g for g in granted if g != execution_id])
        running, _queued = await slot_repo.usage(self.db, user_id)
        return slot_repo.Claim(queued=execution_id not in granted, running=running)
