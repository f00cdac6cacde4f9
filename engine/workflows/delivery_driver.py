"""What one ``webhook_delivery`` does, kept out of the workflow's own module.

Workflow code (deterministic, only ``temporalio.workflow`` APIs), passed through
the sandbox: the sandbox re-imports the module that defines a workflow for every
run, so ``engine/workflows/webhook_delivery.py`` holds only the ``@workflow.defn`` shell and
this module is imported once per worker process. It keeps no module-level
mutable state.

The attempt activity loads secrets and the payload itself (ids only in history)
and returns a verdict plus the wait before the next try; waits are durable timers.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from engine.models.events import EventInput
from engine.models.webhooks import (
    ATTEMPT_DELIVERY,
    MARK_DELIVERY,
    AttemptInput,
    AttemptOutput,
    MarkDeliveryInput,
    WebhookDeliveryInput,
    WebhookDeliveryOutput,
)
from engine.workflows.events import emit_events
from engine.workflows.jobs import JobTracker

# Taskyard's own trouble (database away) is retried by Temporal; receiver trouble is not.
INFRA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
)


class DeliveryDriver:
    """One delivery's attempts, waits and end; the workflow class only forwards to it."""

    def __init__(self) -> None:
        self.job = JobTracker()

    async def run(self, data: WebhookDeliveryInput) -> WebhookDeliveryOutput:
        delivery_id = workflow.info().workflow_id
        self.job.state.metadata.update(
            {
                "event": data.event,
                "eventId": data.event_id,
                "endpointId": data.endpoint_id,
                "deliveryId": delivery_id,
                "round": data.round,
            }
        )
        # Most deliveries end within one attempt, so "running" is not mirrored into
        # visibility (the job_state query has it); retries and the end are.
        state = self.job.state
        state.created_at = workflow.info().start_time
        state.status, state.started_at = "running", workflow.now()
        state.message = f"Delivering {data.event}"
        try:
            result = await self._deliver(data, delivery_id)
        except (asyncio.CancelledError, ActivityError) as err:
            if is_cancelled_exception(err):
                await self._close(delivery_id, "cancelled", "cancelled")
                self.job.cancel(f"Delivery of {data.event} cancelled")
                raise
            self.job.fail(f"Delivery of {data.event} could not be attempted: {err}", "Internal")
            await self._close(delivery_id, "failed", f"internal error: {err}")
            raise ApplicationError(str(err), type="Internal", non_retryable=True) from err
        await self._announce(data, delivery_id, result)
        attempts = self.job.state.metadata.get("attempts", 0)
        if result.outcome == "delivered":
            self.job.complete(
                f"Delivered {data.event} (HTTP {result.status_code})",
                {"statusCode": result.status_code, "attempts": attempts},
            )
            return WebhookDeliveryOutput(
                delivered=True, attempts=int(attempts), status_code=result.status_code
            )
        message = f"Delivery of {data.event} failed: {result.error}"
        self.job.fail(message, "DeliveryFailed")
        raise ApplicationError(message, type="DeliveryFailed", non_retryable=True)

    async def _close(self, delivery_id: str, status: str, error: str) -> None:
        """Record an end the attempt activity did not (cancelled, or Taskyard's own failure)."""
        try:
            await workflow.execute_activity(
                MARK_DELIVERY,
                MarkDeliveryInput(delivery_id=delivery_id, status=status, error=error),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError:
            workflow.logger.warning("delivery %s could not be marked %s", delivery_id, status)

    async def _deliver(self, data: WebhookDeliveryInput, delivery_id: str) -> AttemptOutput:
        attempt, reserved = 1, False
        while True:
            result = await workflow.execute_activity(
                ATTEMPT_DELIVERY,
                AttemptInput(
                    delivery_id=delivery_id,
                    user_id=data.user_id,
                    endpoint_id=data.endpoint_id,
                    event_id=data.event_id,
                    round=data.round,
                    attempt=attempt,
                    workflow_time=workflow.now(),
                    jitter=workflow.random().random(),
                    slot_reserved=reserved,
                ),
                result_type=AttemptOutput,
                start_to_close_timeout=timedelta(seconds=data.attempt_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                retry_policy=INFRA_RETRY,
                summary=f"{data.event} attempt {attempt}",
            )
            if result.outcome == "throttled":
                reserved = True
                self.job.update(message=f"Throttled; sending in {result.delay_seconds:g}s")
                await workflow.sleep(timedelta(seconds=result.delay_seconds))
                continue
            reserved = False
            if result.attempted:
                self.job.state.metadata["attempts"] = attempt
            if result.final:
                return result
            self.job.update(
                message=f"Attempt {attempt}/{result.max_attempts} failed ({result.error}); "
                f"retrying in {result.delay_seconds:g}s",
                metadata={"attempts": attempt, "lastStatusCode": result.status_code},
            )
            await workflow.sleep(timedelta(seconds=result.delay_seconds))
            attempt += 1

    async def _announce(
        self, data: WebhookDeliveryInput, delivery_id: str, result: AttemptOutput
    ) -> None:
        """Tell the owner through their other endpoints; never about webhook.* deliveries'
        own exhaustion, so two failing endpoints cannot feed each other forever."""
        events: list[EventInput] = []
        common = {
            "deliveryId": delivery_id,
            "endpointId": data.endpoint_id,
            "event": data.event,
            "eventId": data.event_id,
        }
        if result.endpoint_disabled:
            events.append(
                EventInput(
                    name="webhook.endpoint.disabled",
                    data={
                        **common,
                        "reason": result.disabled_reason,
                        "lastStatusCode": result.status_code,
                        "lastError": result.error,
                    },
                    exclude_endpoint_ids=[data.endpoint_id],
                )
            )
        if result.exhausted and not data.event.startswith("webhook."):
            events.append(
                EventInput(
                    name="webhook.delivery.exhausted",
                    data={
                        **common,
                        "attempts": result.max_attempts,
                        "lastStatusCode": result.status_code,
                        "lastError": result.error,
                    },
                    exclude_endpoint_ids=[data.endpoint_id],
                )
            )
        if events:
            await emit_events(data.user_id, events, source_id=f"{delivery_id}#{data.round}")
