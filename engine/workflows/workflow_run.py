"""WorkflowRunWorkflow: one execution of a user-defined workflow (job type ``workflow_run``).

Only the ``@workflow.defn`` shell lives here: the sandbox re-imports this module for every
run, so what a run does is in ``engine.workflows.run_driver`` (and ``step_runner``), passed
through and imported once per worker process.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models.runs import (
        QUERY_RUN_STATE,
        RUN_WORKFLOW,
        SIGNAL_RUN_EVENT,
        SIGNAL_SLOT_GRANTED,
        RunEvent,
        RunState,
        WorkflowRunInput,
    )
    from engine.workflows.jobs import JobWorkflow
    from engine.workflows.run_driver import RunDriver


@workflow.defn(name=RUN_WORKFLOW)
class WorkflowRunWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._driver = RunDriver()
        self._job = self._driver.job

    @workflow.signal(name=SIGNAL_RUN_EVENT)
    def run_event(self, event: RunEvent) -> None:
        self._driver.on_event(event)

    @workflow.query(name=QUERY_RUN_STATE)
    def run_state(self) -> RunState | None:
        return self._driver.state

    @workflow.signal(name=SIGNAL_SLOT_GRANTED)
    def slot_granted(self) -> None:
        """A queued run's turn: a slot of its user's running cap is now its own."""
        self._driver.slot_granted = True

    @workflow.run
    async def run(self, data: WorkflowRunInput) -> RunState:
        return await self._driver.run(data)
