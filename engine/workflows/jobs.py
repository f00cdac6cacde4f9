"""The workflow side of every job: ``JobTracker`` holds its state, ``JobWorkflow`` answers
the ``job_state`` query, and ``JobTracker.settle`` is the one way a job ends when its work
raised (cancelled, or failed and announced).

Workflow code: only call from inside a workflow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from engine.models.jobs import (
        QUERY_JOB_STATE,
        SA_JOB_STATUS,
        SA_PROGRESS,
        JobState,
        JobStatus,
    )


def failure_of(err: BaseException) -> tuple[str, str]:
    """(message, type) of what made a job's work fail: the activity's own error when it
    raised one, else the kind of failure (a timeout, a cancelled child)."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type or "ApplicationError"
    return str(cause or err), type(cause or err).__name__


class JobTracker:
    """Workflow-side holder of a job's state. Only call from workflow code."""

    # Progress is mirrored to visibility at most this often (in percentage points)…
    MIRROR_STEP = 10
    # …and, when set, no sooner than this after the last mirror (status changes always are).
    mirror_every: timedelta | None = None

    def __init__(self, message: str = "", metadata: dict[str, Any] | None = None) -> None:
        self.state = JobState(message=message, metadata=dict(metadata or {}))
        self._mirrored_progress = 0
        self._mirrored_status: str = "pending"
        self._mirrored_at: datetime | None = None
        # Set by ``begin(lean=True)``: the memo visibility holds, so only what changed is sent.
        self._mirrored_memo: dict[str, Any] | None = None

    def begin(self, message: str, *, status: JobStatus = "pending", lean: bool = False) -> None:
        """Mark the job started. ``lean`` (a workflow's choice, behind its own patch): write
        to visibility only what differs from what the job was started with — a memo equal to
        the start memo and an unchanged progress are not sent again."""
        now = workflow.now()
        self.state.created_at = self.state.created_at or workflow.info().start_time or now
        if lean:
            self._mirrored_memo = dict(workflow.memo())
        self.update(status=status, message=message)

    def update(
        self,
        *,
        status: JobStatus | None = None,
        progress: int | None = None,
        message: str | None = None,
        metadata: dict[str, Any] | None = None,
        force_mirror: bool = False,
    ) -> None:
        s = self.state
        if status is not None:
            s.status = status
            if status == "running" and s.started_at is None:
                s.started_at = workflow.now()
            if status in ("completed", "failed", "cancelled"):
                s.completed_at = workflow.now()
        if progress is not None:
            s.progress = max(0, min(100, progress))
        if message is not None:
            s.message = message
        if metadata:
            s.metadata.update(metadata)
        # What the Temporal UI shows for the running job: not a command, so histories are
        # unchanged by it.
        workflow.set_current_details(f"{s.status} · {s.progress}% · {s.message}")
        self._mirror(force=force_mirror or message is not None or metadata is not None)

    def complete(self, message: str, result: Any = None) -> None:
        self.state.result = result
        self.update(status="completed", progress=100, message=message)

    def fail(self, message: str, error_type: str | None = None) -> None:
        self.state.error = message
        self.state.error_type = error_type
        self.update(status="failed", message=message)

    def cancel(self, message: str = "Cancelled") -> None:
        self.update(status="cancelled", message=message)

    async def settle(
        self,
        err: BaseException,
        *,
        cancelled: str | Callable[[], Awaitable[str]],
        failed: str,
        before_fail: Callable[[str], Awaitable[None]] | None = None,
        announce: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> NoReturn:
        """End a job whose work raised ``err``.

        Cancelled: ``cancelled`` is the message (or an awaitable cleanup returning it), and
        the cancellation propagates. Otherwise ``before_fail`` cleans up, the job fails with
        ``"{failed}: {message}"``, ``announce`` publishes the failure, and the workflow
        fails with a non-retryable error of the same message and type.
        """
        if is_cancelled_exception(err):
            self.cancel(cancelled if isinstance(cancelled, str) else await cancelled())
            raise err
        message, error_type = failure_of(err)
        if before_fail is not None:
            await before_fail(message)
        self.fail(f"{failed}: {message}", error_type)
        if announce is not None:
            await announce(message, error_type)
        raise ApplicationError(message, type=error_type, non_retryable=True) from err

    def _mirror(self, *, force: bool) -> None:
        s = self.state
        status_changed = s.status != self._mirrored_status
        progress_step = abs(s.progress - self._mirrored_progress) >= self.MIRROR_STEP
        if progress_step and self.mirror_every is not None and self._mirrored_at is not None:
            progress_step = workflow.now() - self._mirrored_at >= self.mirror_every
        if not (status_changed or progress_step or force):
            return
        memo = {"message": s.message, "metadata": s.metadata, "progress": s.progress}
        if self._mirrored_memo is None:
            workflow.upsert_search_attributes(
                [SA_JOB_STATUS.value_set(s.status), SA_PROGRESS.value_set(s.progress)]
            )
            workflow.upsert_memo(memo)
        else:
            changed = [
                pair
                for pair, differs in (
                    (SA_JOB_STATUS.value_set(s.status), status_changed),
                    (SA_PROGRESS.value_set(s.progress), s.progress != self._mirrored_progress),
                )
                if differs
            ]
            if changed:
                workflow.upsert_search_attributes(changed)
            if memo != self._mirrored_memo:
                workflow.upsert_memo(memo)
                self._mirrored_memo = {**memo, "metadata": dict(s.metadata)}
        self._mirrored_status = s.status
        self._mirrored_progress = s.progress
        self._mirrored_at = workflow.now()


class JobWorkflow:
    """Base of every job workflow: its ``JobTracker`` answers the ``job_state`` query."""

    _job: JobTracker

    @workflow.query(name=QUERY_JOB_STATE)
    def job_state(self) -> JobState:
        return self._job.state
