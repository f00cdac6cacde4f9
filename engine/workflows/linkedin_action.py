"""LinkedInActionWorkflow: one LinkedIn action as a ``linkedin_action`` job, paced by its governor.

The job asks its account's governor for a slot and waits ``pending`` (its
message says when it is expected to run), runs the provider call when granted
(``running``), tells the governor how it went, and ends ``completed`` or
``failed`` with the provider's reason. A limit or a challenge sends it back to
the governor's queue (the account pauses) up to ``max_attempts`` times.
Cancelling it while it waits withdraws it (it never runs); cancelling it while it
runs stops the activity and frees the slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.events import EventInput
    from engine.models.linkedin import (
        ACTION_WORKFLOW,
        PERFORM_ACTION,
        SIGNAL_ENQUEUE,
        SIGNAL_RELEASE,
        SIGNAL_SLOT,
        SIGNAL_WITHDRAW,
        ActionFields,
        LinkedInActionInput,
        LinkedInActionOutput,
        Outcome,
        PerformInput,
        PerformOutput,
        Release,
        SlotMessage,
        SlotRequest,
        Withdraw,
        governor_id,
    )
    from engine.workflows.events import emit_events
    from engine.workflows.jobs import JobTracker, JobWorkflow

NON_RETRYABLE = list(PERMANENT_ERROR_TYPES)

# action type → (while running, on success, on failure)
LABELS: dict[str, tuple[str, str, str]] = {
    "sendConnectionRequest": (
        "Sending connection request",
        "Connection request sent successfully",
        "Connection request failed",
    ),
    "sendMessage": ("Sending message", "Message sent successfully", "Message failed"),
    "viewProfile": ("Viewing profile", "Profile viewed successfully", "Profile view failed"),
    "followProfile": ("Following profile", "Profile followed successfully", "Follow failed"),
    "likePost": ("Liking post", "Post liked successfully", "Like failed"),
    "withdrawConnectionRequest": (
        "Withdrawing connection request",
        "Connection request withdrawn successfully",
        "Withdrawal failed",
    ),
}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@workflow.defn(name=ACTION_WORKFLOW)
class LinkedInActionWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._job = JobTracker()
        self._grant: SlotMessage | None = None
        self._reject: SlotMessage | None = None

    @workflow.signal(name=SIGNAL_SLOT)
    def governor_slot(self, msg: SlotMessage) -> None:
        if msg.kind == "grant":
            self._grant = msg
        elif msg.kind == "reject":
            self._reject = msg
        elif self._job.state.status == "pending" and self._grant is None:
            meta = {"scheduledFor": _iso(msg.at) if msg.at else None}
            self._job.update(message=msg.message, metadata=meta)

    @workflow.run
    async def run(self, data: LinkedInActionInput) -> LinkedInActionOutput:
        running, done, failed = LABELS[data.action_type]
        self._job.state.metadata.update(
            {
                "actionType": data.action_type,
                "profileUrl": data.profile_url,
                "provider": data.provider,
                "delay": None,
                **data.metadata,
            }
        )
        self._job.begin("Queued: waiting for a slot from the account's LinkedIn governor")
        governor = workflow.get_external_workflow_handle(governor_id(data.account_id))
        try:
            await governor.signal(
                SIGNAL_ENQUEUE,
                SlotRequest(
                    job_id=workflow.info().workflow_id,
                    action_type=data.action_type,
                    not_before=data.not_before,
                ),
            )
        except Exception as err:  # the governor is gone: nothing would ever grant a slot
            self._job.fail(f"{failed}: the account's governor is not running", "GovernorMissing")
            raise ApplicationError(str(err), type="GovernorMissing", non_retryable=True) from err
        attempt = 0
        while True:
            attempt += 1
            grant = await self._wait_for_slot(governor, data, failed)
            self._job.update(
                status="running",
                progress=50,
                message=running,
                metadata={"delay": grant.delay_ms, "attempts": attempt},
            )
            out = await self._perform(governor, data, attempt, failed)
            if out.outcome == "completed":
                await self._release(governor, "completed")
                self._job.complete(done, out.model_dump(mode="json"))
                await self._emit(
                    data,
                    "linkedin.action.completed",
                    {
                        "status": "completed",
                        "summary": out.summary,
                        "remoteId": out.remote_id,
                    },
                )
                return LinkedInActionOutput(
                    actionType=data.action_type,
                    profileUrl=data.profile_url,
                    provider=data.provider,
                    summary=out.summary,
                    remoteId=out.remote_id,
                    details=out.details,
                    attempts=attempt,
                )
            again = attempt < data.max_attempts
            await self._release(governor, out.outcome, out, requeue=again)
            if not again:
                self._job.fail(f"{failed}: {out.reason}", out.outcome)
                await self._emit(
                    data,
                    "linkedin.action.failed",
                    {
                        "status": "failed",
                        "error": out.reason,
                        "errorType": out.outcome,
                    },
                )
                raise ApplicationError(
                    out.reason or out.outcome, type=out.outcome, non_retryable=True
                )
            self._job.update(
                status="pending",
                message=(
                    f"{out.reason}; the account is paused and this action will retry "
                    "after the pause"
                ),
            )

    async def _wait_for_slot(
        self,
        governor: workflow.ExternalWorkflowHandle[Any],
        data: LinkedInActionInput,
        failed: str,
    ) -> SlotMessage:
        try:
            await workflow.wait_condition(
                lambda: self._grant is not None or self._reject is not None
            )
        except asyncio.CancelledError:
            job_id = workflow.info().workflow_id
            await self._tell(governor, SIGNAL_WITHDRAW, Withdraw(job_id=job_id))
            self._job.cancel("Cancelled while waiting for its slot; it did not run")
            raise
        if self._reject is not None:
            self._job.fail(f"{failed}: {self._reject.message}", "Rejected")
            await self._emit(
                data,
                "linkedin.action.failed",
                {
                    "status": "failed",
                    "error": self._reject.message,
                    "errorType": "Rejected",
                },
            )
            raise ApplicationError(self._reject.message, type="Rejected", non_retryable=True)
        grant, self._grant = self._grant, None
        assert grant is not None
        return grant

    async def _perform(
        self,
        governor: workflow.ExternalWorkflowHandle[Any],
        data: LinkedInActionInput,
        attempt: int,
        failed: str,
    ) -> PerformOutput:
        try:
            out: PerformOutput = await workflow.execute_activity(
                PERFORM_ACTION,
                PerformInput(
                    **data.model_dump(include=set(ActionFields.model_fields)), attempt=attempt
                ),
                result_type=PerformOutput,
                summary=f"LinkedIn {data.action_type} (attempt {attempt})",
                start_to_close_timeout=timedelta(seconds=data.activity_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=5),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=60),
                    maximum_attempts=3,
                    non_retryable_error_types=NON_RETRYABLE,
                ),
            )
        except (asyncio.CancelledError, ActivityError) as err:

            async def cancelled() -> str:
                await self._release(governor, "cancelled")
                return "Cancelled while running; its slot was freed"

            async def before_fail(message: str) -> None:
                await self._release(governor, "failed", reason=message)

            async def announce(message: str, error_type: str) -> None:
                await self._emit(
                    data,
                    "linkedin.action.failed",
                    {
                        "status": "failed",
                        "error": message,
                        "errorType": error_type,
                    },
                )

            await self._job.settle(
                err, cancelled=cancelled, failed=failed, before_fail=before_fail, announce=announce
            )
        return out

    async def _release(
        self,
        governor: workflow.ExternalWorkflowHandle[Any],
        outcome: Outcome,
        out: PerformOutput | None = None,
        *,
        requeue: bool = False,
        reason: str | None = None,
    ) -> None:
        await self._tell(
            governor,
            SIGNAL_RELEASE,
            Release(
                job_id=workflow.info().workflow_id,
                outcome=outcome,
                requeue=requeue,
                retry_after_seconds=out.retry_after_seconds if out else None,
                reason=(out.reason if out else None) or reason,
            ),
        )

    async def _emit(self, data: LinkedInActionInput, name: str, body: dict[str, Any]) -> None:
        """``linkedin.action.completed`` / ``.failed`` for webhooks (docs/webhooks.md)."""
        meta = self._job.state.metadata
        payload = {
            "jobId": workflow.info().workflow_id,
            "actionType": data.action_type,
            "profileUrl": data.profile_url,
            "provider": data.provider,
            "delay": meta.get("delay"),
            "attempts": meta.get("attempts"),
            **body,
        }
        await emit_events(data.user_id, [EventInput(name=name, data=payload)])

    @staticmethod
    async def _tell(
        governor: workflow.ExternalWorkflowHandle[Any], signal: str, arg: BaseModel
    ) -> None:
        """Report to the governor, even if a cancellation arrives meanwhile (else the slot
        would stay taken until its lease ran out); if the governor is gone there is no slot
        left to free."""
        task = asyncio.ensure_future(governor.signal(signal, arg))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
            raise
        except Exception as err:
            workflow.logger.warning("could not signal the governor (%s): %s", signal, err)
