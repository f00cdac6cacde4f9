"""The governor's slot protocol for a workflow that performs LinkedIn actions one after another
itself (a campaign enrollment), rather than through a ``linkedin_action`` job per action.

Same signals as ``LinkedInActionWorkflow``: ``enqueue`` a request, receive ``eta`` /
``grant`` / ``reject`` on ``governor_slot``, then ``release`` (or ``withdraw`` a request
not granted yet). The workflow's id is the job id the governor answers, so requests are
strictly one at a time; each names a ticket the governor echoes, and an answer for an
earlier ticket (a grant that crossed a withdraw) is dropped.

Workflow code: only call from inside a workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.linkedin import (
        PERFORM_ACTION,
        SIGNAL_ENQUEUE,
        SIGNAL_RELEASE,
        SIGNAL_WITHDRAW,
        Outcome,
        PerformInput,
        PerformOutput,
        Release,
        SlotMessage,
        SlotRequest,
        Withdraw,
        governor_id,
    )

PERFORM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=3,
    non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
)


class GovernorMissing(Exception):
    """The account's governor does not run: nothing would ever grant a slot."""


class SlotClient:
    """One workflow's side of its account's governor, one request at a time."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.ticket: str | None = None
        self.grant: SlotMessage | None = None
        self.reject: SlotMessage | None = None
        self.eta: SlotMessage | None = None
        self._governor: workflow.ExternalWorkflowHandle[Any] | None = None

    @property
    def governor(self) -> workflow.ExternalWorkflowHandle[Any]:
        if self._governor is None:
            self._governor = workflow.get_external_workflow_handle(governor_id(self.account_id))
        return self._governor

    @property
    def waiting(self) -> bool:
        return self.ticket is not None and self.grant is None

    def on_slot(self, msg: SlotMessage) -> None:
        """The ``governor_slot`` signal: keep what answers the current request."""
        if self.ticket is None or msg.ticket != self.ticket:
            return
        if msg.kind == "grant":
            self.grant = msg
        elif msg.kind == "reject":
            self.reject = msg
        elif self.grant is None:
            self.eta = msg

    async def request(self, ticket: str, action_type: str, not_before: datetime | None) -> None:
        self.ticket, self.grant, self.reject, self.eta = ticket, None, None, None
        try:
            await self.governor.signal(
                SIGNAL_ENQUEUE,
                SlotRequest(
                    job_id=workflow.info().workflow_id,
                    action_type=action_type,
                    not_before=not_before,
                    ticket=ticket,
                ),
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.ticket = None
            raise GovernorMissing(str(err)) from err

    async def withdraw(self) -> None:
        """Give the request back (not granted yet, or granted and not started)."""
        if self.ticket is None:
            return
        self.ticket, self.grant, self.eta = None, None, None
        await self._tell(SIGNAL_WITHDRAW, Withdraw(job_id=workflow.info().workflow_id))

    async def release(
        self,
        outcome: Outcome,
        out: PerformOutput | None = None,
        *,
        requeue: bool = False,
        reason: str | None = None,
    ) -> None:
        """Report a granted action's end; ``requeue`` keeps the request in its place."""
        if not requeue:
            self.ticket = None
        self.grant, self.eta = None, None
        await self._tell(
            SIGNAL_RELEASE,
            Release(
                job_id=workflow.info().workflow_id,
                outcome=outcome,
                requeue=requeue,
                retry_after_seconds=out.retry_after_seconds if out else None,
                reason=(out.reason if out else None) or reason,
            ),
        )

    async def _tell(self, signal: str, arg: BaseModel) -> None:
        """As the action job does: a cancellation arriving meanwhile waits for the signal
        (else the slot would stay taken until its lease ran out)."""
        task = asyncio.ensure_future(self.governor.signal(signal, arg))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
            raise
        except Exception as err:
            workflow.logger.warning("could not signal the governor (%s): %s", signal, err)


async def perform(
    data: PerformInput, *, timeout: float, heartbeat: float
) -> PerformOutput | ApplicationError:
    """Run the provider call; a permanent failure comes back as the activity's error."""
    try:
        out: PerformOutput = await workflow.execute_activity(
            PERFORM_ACTION,
            data,
            result_type=PerformOutput,
            start_to_close_timeout=timedelta(seconds=timeout),
            heartbeat_timeout=timedelta(seconds=heartbeat),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=PERFORM_RETRY,
        )
    except ActivityError as err:
        if is_cancelled_exception(err):
            raise asyncio.CancelledError() from err
        cause = err.cause
        if isinstance(cause, ApplicationError):
            return cause
        return ApplicationError(str(cause or err), type=type(cause or err).__name__)
    return out
