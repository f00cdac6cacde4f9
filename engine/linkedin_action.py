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

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

from engine.events import EventInput, emit_events
from engine.jobs import JobTracker, JobWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.linkedin import (
        ActionFields,
        LinkedInActivities,
        PerformInput,
        PerformOutput,
    )
    from engine.linkedin_models import (
        SIGNAL_ENQUEUE,
        SIGNAL_RELEASE,
        SIGNAL_SLOT,
        SIGNAL_WITHDRAW,
        Outcome,
        Release,
        SlotMessage,
        SlotRequest,
        Withdraw,
        governor_id,
    )

NON_RETRYABLE = ["AuthError", "InvalidInputError", "NotFoundError"]

# action type → (while running, on success, on failure)
LABELS: dict[str, tuple[str, str, str]] = {
    "sendConnectionRequest": (
        "Sending connection request", "Connection request sent successfully",
        "Connection request failed",
    ),
    "sendMessage": ("Sending message", "Message sent successfully", "Message failed"),
    "viewProfile": ("Viewing profile", "Profile viewed successfully", "Profile view failed"),
    "followProfile": ("Following profile", "Profile followed successfully", "Follow failed"),
    "likePost": ("Liking post", "Post liked successfully", "Like failed"),
    "withdrawConnectionRequest": (
        "Withdrawing connection request", "Connection request withdrawn successfully",
        "Withdrawal failed",
    ),
}


class LinkedInActionInput(ActionFields):
    not_before: datetime | None = None
    provider: str = "sandbox"
    metadata: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = 3
    activity_timeout_seconds: float = 120.0
    heartbeat_timeout_seconds: float = 10.0


class LinkedInActionOutput(BaseModel):
    actionType: str
    profileUrl: str
    provider: str
    summary: str
    remoteId: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _failure_of(err: BaseException) -> tuple[str, str | None]:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type
    return str(cause or err), type(cause or err).__name__


@workflow.defn(name="LinkedInActionWorkflow")
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
        self._job.state.metadata.update({
            "actionType": data.action_type, "profileUrl": data.profile_url,
            "provider": data.provider, "delay": None, **data.metadata,
        })
        self._job.begin("Queued: waiting for a slot from the account's LinkedIn governor")
        governor = workflow.get_external_workflow_handle(governor_id(data.account_id))
        try:
            await governor.signal(SIGNAL_ENQUEUE, SlotRequest(
                job_id=workflow.info().workflow_id, action_type=data.action_type,
                not_before=data.not_before,
            ))
        except Exception as err:  # the governor is gone: nothing would ever grant a slot
            self._job.fail(f"{failed}: the account's governor is not running", "GovernorMissing")
            raise ApplicationError(str(err), type="GovernorMissing", non_retryable=True) from err
        attempt = 0
        while True:
            attempt += 1
            grant = await self._wait_for_slot(governor, data, failed)
            self._job.update(status="running", progress=50, message=running,
                             metadata={"delay": grant.delay_ms, "attempts": attempt})
            out = await self._perform(governor, data, attempt, failed)
            if out.outcome == "completed":
                await self._release(governor, "completed")
                self._job.complete(done, out.model_dump(mode="json"))
                await self._emit(data, "linkedin.action.completed", {
                    "status": "completed", "summary": out.summary, "remoteId": out.remote_id,
                })
                return LinkedInActionOutput(
                    actionType=data.action_type, profileUrl=data.profile_url,
                    provider=data.provider, summary=out.summary, remoteId=out.remote_id,
                    details=out.details, attempts=attempt,
                )
            again = attempt < data.max_attempts
            await self._release(governor, out.outcome, out, requeue=again)
            if not again:
                self._job.fail(f"{failed}: {out.reason}", out.outcome)
                await self._emit(data, "linkedin.action.failed", {
                    "status": "failed", "error": out.reason, "errorType": out.outcome,
                })
                raise ApplicationError(out.reason or out.outcome, type=out.outcome,
                                       non_retryable=True)
            self._job.update(status="pending", message=(
                f"{out.reason}; the account is paused and this action will retry after the pause"
            ))

    async def _wait_for_slot(
        self, governor: workflow.ExternalWorkflowHandle[Any], data: LinkedInActionInput,
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
            await self._emit(data, "linkedin.action.failed", {
                "status": "failed", "error": self._reject.message, "errorType": "Rejected",
            })
            raise ApplicationError(self._reject.message, type="Rejected", non_retryable=True)
        grant, self._grant = self._grant, None
        assert grant is not None
        return grant

    async def _perform(
        self, governor: workflow.ExternalWorkflowHandle[Any], data: LinkedInActionInput,
        attempt: int, failed: str,
    ) -> PerformOutput:
        try:
            return await workflow.execute_activity_method(
                LinkedInActivities.perform_linkedin_action,
                PerformInput(
                    **data.model_dump(include=set(ActionFields.model_fields)), attempt=attempt
                ),
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
            if is_cancelled_exception(err):
                await self._release(governor, "cancelled")
                self._job.cancel("Cancelled while running; its slot was freed")
                raise
            message, error_type = _failure_of(err)
            await self._release(governor, "failed", reason=message)
            self._job.fail(f"{failed}: {message}", error_type)
            await self._emit(data, "linkedin.action.failed", {
                "status": "failed", "error": message, "errorType": error_type,
            })
            raise ApplicationError(message, type=error_type, non_retryable=True) from err

    async def _release(
        self, governor: workflow.ExternalWorkflowHandle[Any], outcome: Outcome,
        out: PerformOutput | None = None, *, requeue: bool = False, reason: str | None = None,
    ) -> None:
        await self._tell(governor, SIGNAL_RELEASE, Release(
            job_id=workflow.info().workflow_id, outcome=outcome, requeue=requeue,
            retry_after_seconds=out.retry_after_seconds if out else None,
            reason=(out.reason if out else None) or reason,
        ))

    async def _emit(self, data: LinkedInActionInput, name: str, body: dict[str, Any]) -> None:
        """``linkedin.action.completed`` / ``.failed`` for webhooks (docs/webhooks.md)."""
        meta = self._job.state.metadata
        payload = {
            "jobId": workflow.info().workflow_id, "actionType": data.action_type,
            "profileUrl": data.profile_url, "provider": data.provider,
            "delay": meta.get("delay"), "attempts": meta.get("attempts"), **body,
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
