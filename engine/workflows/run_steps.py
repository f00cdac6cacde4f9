"""The ``wait_for_event`` and ``linkedin_action`` steps of user workflows (workflow code).

``wait_for_event`` waits for an event sent to the execution (``POST
/api/v1/executions/{id}/events``): approvals, external triggers. ``linkedin_action`` runs
one governed LinkedIn action as a child ``linkedin_action`` job, so the user's account
paces it with everything else it does (a run's steps may run side by side, and the governor
keys its slots by workflow id: one child each).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from engine.models.jobs import start_attributes, start_memo
    from engine.models.linkedin import ACTION_WORKFLOW, LinkedInActionInput, LinkedInActionOutput
    from engine.models.runs import (
        MAX_BUFFERED_EVENTS,
        PREPARE_LINKEDIN_STEP,
        LinkedInActionConfig,
        PrepareLinkedInInput,
        PrepareLinkedInOutput,
        RunEvent,
        RunState,
        WaitForEventConfig,
    )

PREPARE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=5,
    non_retryable_error_types=["LinkedInNotConnected"],
)


class StepFailed(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


class RunEvents:
    """Events sent to a run (``run_event`` signal); a ``wait_for_event`` step takes the
    first one of its name, so an event sent before the step waits for it. Bounded; an event
    id seen before is dropped (a client's retry)."""

    def __init__(self) -> None:
        self.pending: list[RunEvent] = []
        self.seen: list[str] = []

    def add(self, event: RunEvent) -> None:
        if event.id:
            if event.id in self.seen:
                return
            self.seen = [*self.seen, event.id][-2 * MAX_BUFFERED_EVENTS :]
        self.pending.append(event)
        del self.pending[:-MAX_BUFFERED_EVENTS]

    def has(self, name: str) -> bool:
        return any(e.name == name for e in self.pending)

    def take(self, name: str) -> RunEvent:
        index = next(i for i, e in enumerate(self.pending) if e.name == name)
        return self.pending.pop(index)


async def wait_for_event(events: RunEvents, config: WaitForEventConfig) -> dict[str, Any]:
    name = config.event
    try:
        await workflow.wait_condition(
            lambda: events.has(name), timeout=timedelta(milliseconds=config.timeoutMs)
        )
    except TimeoutError as exc:
        if config.onTimeout == "continue":
            return {"event": name, "timedOut": True, "payload": None, "receivedAt": None}
        raise StepFailed(f"no {name!r} event within {config.timeoutMs} ms", "EventTimeout") from exc
    event = events.take(name)
    received = event.received_at.isoformat() if event.received_at else None
    return {"event": name, "timedOut": False, "payload": event.payload, "receivedAt": received}


async def linkedin_action(
    config: LinkedInActionConfig,
    *,
    user_id: str,
    state: RunState,
    step: str,
    heartbeat_timeout: timedelta,
) -> dict[str, Any]:
    """Run one action as a child job; its output, or StepFailed with the job's reason."""
    try:
        account: PrepareLinkedInOutput = await workflow.execute_local_activity(
            PREPARE_LINKEDIN_STEP,
            PrepareLinkedInInput(user_id=user_id),
            result_type=PrepareLinkedInOutput,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PREPARE_RETRY,
        )
    except ActivityError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise StepFailed(cause.message, cause.type or "LinkedInNotConnected") from err
        raise StepFailed(str(cause or err), type(cause or err).__name__) from err
    metadata = {"executionId": state.executionId, "workflowId": state.workflowId, "step": step}
    try:
        out: LinkedInActionOutput = await workflow.execute_child_workflow(
            ACTION_WORKFLOW,
            LinkedInActionInput(
                user_id=user_id,
                account_id=account.account_id,
                action_type=config.actionType,
                profile_url=config.profileUrl,
                message=config.message,
                note=config.note,
                post_url=config.postUrl,
                provider=account.provider,
                metadata=metadata,
                heartbeat_timeout_seconds=heartbeat_timeout.total_seconds(),
            ),
            id="job_" + workflow.uuid4().hex[:24],  # as the API names linkedin_action jobs
            task_queue=account.task_queue,
            search_attributes=start_attributes(user_id, "linkedin_action"),
            memo=start_memo(
                "Queued: waiting for a slot from the LinkedIn governor",
                {
                    "actionType": config.actionType,
                    "profileUrl": config.profileUrl,
                    "provider": account.provider,
                    "delay": None,
                    **metadata,
                },
            ),
            result_type=LinkedInActionOutput,
        )
    except ChildWorkflowError as err:
        if is_cancelled_exception(err):
            raise asyncio.CancelledError() from err
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise StepFailed(cause.message, cause.type or "ActionFailed") from err
        raise StepFailed(str(cause or err), type(cause or err).__name__) from err
    return out.model_dump(mode="json")
