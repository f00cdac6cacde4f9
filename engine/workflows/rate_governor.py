"""RateGovernorWorkflow: one provider budget of one vendor account, for every worker.

Activities reserve requests through the ``reserve`` update (started with the
workflow when it does not run: update-with-start). Reservations are computed
from workflow time alone (engine.models.rate_limits.reserve), so however many
worker processes call, their requests together keep to the budget. The governor
continues as new when its history grows and ends once it has been idle for a
while with its bucket full again (a new request starts a fresh one, losing
nothing).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models.rate_limits import (
        QUERY_BUDGET,
        RATE_GOVERNOR_WORKFLOW,
        UPDATE_RESERVE,
        GovernorInput,
        GovernorState,
        Reservation,
        ReserveInput,
        recovered,
        reserve,
    )

IDLE = timedelta(minutes=5)


@workflow.defn(name=RATE_GOVERNOR_WORKFLOW)
class RateGovernorWorkflow:
    @workflow.init
    def __init__(self, data: GovernorInput) -> None:
        self.state = data.state or GovernorState(budget=data.budget)
        if data.state is not None:
            self.state.runs += 1
        self._asked = False

    @workflow.update(name=UPDATE_RESERVE)
    def reserve(self, request: ReserveInput) -> Reservation:
        self.state.budget = request.budget  # the caller's settings are the newest
        self._asked = True
        return reserve(self.state, workflow.now(), request.count, request.max_wait_seconds)

    @workflow.query(name=QUERY_BUDGET)
    def view(self) -> GovernorState:
        return self.state

    @workflow.run
    async def run(self, data: GovernorInput) -> None:
        while True:
            self._asked = False
            try:
                await workflow.wait_condition(
                    lambda: self._asked and self._long(data), timeout=self._idle_for()
                )
            except TimeoutError:
                if not self._asked and recovered(self.state, workflow.now()):
                    break
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(
                GovernorInput(
                    budget=self.state.budget, state=self.state, history_limit=data.history_limit
                )
            )
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _long(self, data: GovernorInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= data.history_limit
        )

    def _idle_for(self) -> timedelta:
        """Until the bucket is full again, and at least ``IDLE``."""
        tat = self.state.tat
        now = workflow.now()
        return max(IDLE, (tat - now) if tat is not None and tat > now else timedelta(0))
