"""WebhookDeliveryWorkflow: one event to one endpoint, signed, retried, recorded.

Its workflow id is the delivery id (``X-Webhook-Delivery`` and ``webhook-id``),
derived from the event id and the endpoint id, so a delivery can never be
started twice for the same pair. A manual retry is a new run of the same
workflow id with ``round`` increased.

Only the ``@workflow.defn`` shell lives here: the sandbox re-imports this module
for every run, so what a delivery does is in ``engine.workflows.delivery_driver``, passed
through and imported once per worker process.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models.webhooks import (
        DELIVERY_WORKFLOW,
        WebhookDeliveryInput,
        WebhookDeliveryOutput,
    )
    from engine.workflows.delivery_driver import DeliveryDriver
    from engine.workflows.jobs import JobWorkflow

__all__ = ["WebhookDeliveryInput", "WebhookDeliveryOutput", "WebhookDeliveryWorkflow"]


@workflow.defn(name=DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._driver = DeliveryDriver()
        self._job = self._driver.job

    @workflow.run
    async def run(self, data: WebhookDeliveryInput) -> WebhookDeliveryOutput:
        return await self._driver.run(data)
