"""CampaignEnrollmentWorkflow: one lead walking one LinkedIn campaign (job type
``campaign_enrollment``).

Only the ``@workflow.defn`` shell lives here (the sandbox re-imports this module for every
run); what an enrollment does is in ``engine.workflows.enrollment_driver``, passed through.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models.campaigns import (
        CAMPAIGN_ENROLLMENT_WORKFLOW,
        QUERY_ENROLLMENT,
        SIGNAL_CONTROL,
        SIGNAL_PROVIDER_EVENT,
        ControlSignal,
        EnrollmentInput,
        EnrollmentOutput,
        EnrollmentView,
        ProviderSignal,
    )
    from engine.models.linkedin import SIGNAL_SLOT, SlotMessage
    from engine.workflows.enrollment_driver import EnrollmentDriver
    from engine.workflows.jobs import JobWorkflow


@workflow.defn(name=CAMPAIGN_ENROLLMENT_WORKFLOW)
class CampaignEnrollmentWorkflow(JobWorkflow):
    @workflow.init
    def __init__(self, data: EnrollmentInput) -> None:
        self._driver = EnrollmentDriver(data)
        self._job = self._driver.job

    @workflow.signal(name=SIGNAL_SLOT)
    def governor_slot(self, msg: SlotMessage) -> None:
        self._driver.on_slot(msg)

    @workflow.signal(name=SIGNAL_PROVIDER_EVENT)
    def provider_event(self, sig: ProviderSignal) -> None:
        self._driver.on_event(sig)

    @workflow.signal(name=SIGNAL_CONTROL)
    def campaign_control(self, sig: ControlSignal) -> None:
        self._driver.on_control(sig)

    @workflow.query(name=QUERY_ENROLLMENT)
    def enrollment_view(self) -> EnrollmentView:
        return self._driver.view()

    @workflow.run
    async def run(self, data: EnrollmentInput) -> EnrollmentOutput:
        return await self._driver.run()
