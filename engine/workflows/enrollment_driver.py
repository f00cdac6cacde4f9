"""What one ``campaign_enrollment`` does: walk a campaign's steps for one lead.

Workflow code (deterministic), passed through the sandbox like ``run_driver``: the shell in
``engine/workflows/campaign_enrollment.py`` only forwards to it.

* Action steps ask the sending account's governor for a slot themselves (``SlotClient``),
  so one account's caps, working hours and human-like delays hold across all its
  campaigns and jobs; then the provider call runs as the same activity action jobs use.
* ``waitForAcceptance`` and ``wait`` are durable timers raced against the provider events
  that arrive as signals; their deadlines are state, so they survive continue-as-new.
* A reply stops the enrollment wherever it is (an action already running finishes; one
  still waiting for its slot is withdrawn). Pausing holds it before its next action.
* Each step's outcome is recorded by a local activity (idempotent per step), which is what
  the campaign's stats count; the end is announced as ``campaign.enrollment.completed``
  (and ``campaign.completed`` by the last enrollment of a campaign).
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.models.campaigns import (
        ACTION_STEPS,
        RECORD_ENROLLMENT,
        SIGNAL_POKE,
        ControlSignal,
        EnrollmentInput,
        EnrollmentOutput,
        EnrollmentState,
        EnrollmentView,
        ProviderSignal,
        RecordEnrollmentInput,
        RecordEnrollmentOutput,
        SequenceStep,
    )
    from engine.models.events import PUBLISH_RETRY, EventInput, event_id_for
    from engine.models.linkedin import PerformInput, PerformOutput, SlotMessage
    from engine.workflows import templates
    from engine.workflows.events import emit_events, shielded
    from engine.workflows.jobs import JobTracker
    from engine.workflows.linkedin_schedule import is_open, local_stamp, next_open
    from engine.workflows.linkedin_slots import GovernorMissing, SlotClient, perform

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SEEN_LIMIT = 50  # provider event ids remembered (repeats beyond this are still harmless)
MAX_ATTEMPTS = 3  # provider calls refused by a limit or a challenge before the step fails
RECORD_TIMEOUT = timedelta(seconds=30)
RECORD_RETRY = RetryPolicy(
    initial_interval=PUBLISH_RETRY.initial_interval,
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,  # the database may be briefly away; only a bug stops it
    non_retryable_error_types=["ValueError", "ValidationError", "TypeError"],
)
LABELS = {
    "viewProfile": "profile view",
    "followProfile": "follow",
    "sendConnectionRequest": "invitation",
    "sendMessage": "message",
    "likePost": "post like",
    "withdrawConnectionRequest": "invitation withdrawal",
}
ENDINGS = {
    "completed": "Sequence completed",
    "replied": "Stopped: the lead replied",
    "stopped": "Stopped by a condition of the sequence",
}


class EnrollmentDriver:
    """The state and the steps of one enrollment; the workflow class forwards to it."""

    def __init__(self, data: EnrollmentInput) -> None:
        self.data = data
        self.s = data.state or EnrollmentState(paused=data.paused, pause_reason=data.pause_reason)
        self.s.runs = (data.state.runs + 1) if data.state else 1
        self.job = JobTracker()
        self.slots = SlotClient(data.account_id)
        self.error: tuple[str, str] | None = None
        self._step_label = ""
        self._wake_at: datetime | None = None

    # ---- signals and the query ------------------------------------------------------------

    def on_slot(self, msg: SlotMessage) -> None:
        self.slots.on_slot(msg)
        if msg.kind == "eta" and self.slots.eta is msg and self._step_label:
            when = f"at {self._local(msg.at)}" if msg.at else f"({msg.message})"
            self._say(f"{self._where()}: next {self._step_label} {when}")

    def on_event(self, sig: ProviderSignal) -> None:
        if sig.event_id in self.s.seen:
            return
        self.s.seen = [*self.s.seen, sig.event_id][-SEEN_LIMIT:]
        at = sig.at or workflow.now()
        if sig.kind == "accepted" and self.s.accepted_at is None:
            self.s.accepted_at = at
        elif sig.kind == "replied" and self.s.replied_at is None:
            self.s.replied_at = at

    def on_control(self, sig: ControlSignal) -> None:
        self.s.paused = sig.action == "pause"
        self.s.pause_reason = sig.reason if self.s.paused else None

    def view(self) -> EnrollmentView:
        return EnrollmentView(
            step=self.s.step,
            totalSteps=len(self.data.steps),
            status=self.job.state.status,
            message=self.job.state.message,
            paused=self.s.paused,
            accepted=self.s.accepted_at is not None or self.s.already_connected,
            replied=self.s.replied_at is not None,
            waitUntil=self.s.wait_until,
            nextWakeAt=self._wake_at if self.s.wait_until else None,
            waitingForSlot=self.slots.waiting,
            runs=self.s.runs,
            historyLength=workflow.info().get_current_history_length(),
        )

    # ---- the run ------------------------------------------------------------------------

    async def run(self) -> EnrollmentOutput:
        d = self.data
        self.job.state.metadata.update(
            {
                "campaignId": d.campaign_id,
                "leadId": d.lead_id,
                "profileUrl": d.profile_url,
                "accountId": d.account_id,
                "totalSteps": len(d.steps),
            }
        )
        self.job.begin(self._where() + ": starting", status="running", lean=True)
        try:
            outcome = await self._walk()
        except asyncio.CancelledError:
            out = await shielded(self._record(status="cancelled"))
            if out.campaign_completed:  # the last open enrollment was taken out
                await emit_events(self.data.user_id, [self._campaign_completed()])
            self.job.cancel(f"Cancelled at {self._where()}")
            raise
        except GovernorMissing as err:
            self.error = (f"the account's governor is not running: {err}", "GovernorMissing")
            outcome = "failed"
        if outcome == "continue":
            workflow.continue_as_new(self.data.model_copy(update={"state": self.s}))
        return await self._finish(outcome)

    async def _walk(self) -> str:
        steps = self.data.steps
        while self.s.step < len(steps):
            if self.s.replied_at is not None:
                return "replied"
            if self._history_full():
                return "continue"
            i = self.s.step
            step = steps[i]
            self.job.update(progress=100 * i // len(steps))
            nxt = i + 1
            if step.type in ACTION_STEPS:
                outcome = await self._action(i, step)
                if outcome in ("replied", "failed"):
                    return outcome
            elif step.type == "waitForAcceptance":
                outcome = await self._wait_for_acceptance(i, step)
                if outcome in ("replied", "continue"):
                    return outcome
                if outcome == "timeout" and step.on_timeout == "stop":
                    await self._record(step=i, step_type=step.type, outcome="timeout", next_step=i)
                    return "stopped"
                if outcome == "timeout" and step.on_timeout == "goto" and step.goto is not None:
                    nxt = step.goto
                await self._record(step=i, step_type=step.type, outcome=outcome, next_step=nxt)
            elif step.type == "wait":
                outcome = await self._wait(i, step)
                if outcome == "replied":
                    return outcome
                await self._record(step=i, step_type=step.type, outcome="done", next_step=nxt)
            else:  # stopIf, branch
                true = templates.condition(step.condition or "false", self._facts())
                if true and step.type == "stopIf":
                    await self._record(step=i, step_type=step.type, outcome="true", next_step=i)
                    return "stopped"
                if true and step.goto is not None:
                    nxt = step.goto
                await self._record(
                    step=i, step_type=step.type, outcome=str(true).lower(), next_step=nxt
                )
            self.s.step = nxt
        return "completed"

    # ---- action steps -------------------------------------------------------------------

    async def _action(self, i: int, step: SequenceStep) -> str:
        kind = step.type
        connected = self.s.already_connected or self.s.accepted_at is not None
        if (kind == "sendConnectionRequest" and connected) or (
            kind == "withdrawConnectionRequest" and (connected or self.s.invited_at is None)
        ):
            await self._record(step=i, step_type=kind, outcome="skipped", next_step=i + 1)
            return "skipped"
        self._step_label = LABELS[kind]
        not_before = self.data.not_before if self.s.actions == 0 else None
        attempt = 0
        while True:
            await self._hold(i)
            if self.s.replied_at is not None:
                return "replied"
            self.s.requests += 1
            self._say(f"{self._where()}: next {self._step_label}, waiting for a slot")
            await self.slots.request(
                f"{self.s.runs}.{self.s.requests}", kind, self._window(not_before)
            )
            grant = await self._await_grant()
            if grant is None:
                continue  # paused or replied before the slot came: withdrawn
            if grant.kind == "reject":
                self.slots.ticket = None
                self.error = (grant.message, "Rejected")
                await self._record(step=i, step_type=kind, outcome="failed", error=grant.message)
                return "failed"
            hours = self.data.hours
            if hours is not None and not is_open(workflow.now(), hours):
                await self.slots.withdraw()  # the account's window is wider than the campaign's
                not_before = next_open(workflow.now(), hours)
                continue
            attempt += 1
            result = await self._perform(kind, i, attempt)
            if isinstance(result, ApplicationError):
                await self.slots.release("failed", reason=result.message)
                self.error = (result.message, result.type or "ActionFailed")
                await self._record(step=i, step_type=kind, outcome="failed", error=result.message)
                return "failed"
            if result.outcome == "completed":
                await self.slots.release("completed")
                await self._done(i, kind, result)
                return "done"
            await self.slots.release(result.outcome, result)  # the governor pauses the account
            if attempt >= MAX_ATTEMPTS:
                self.error = (result.reason or result.outcome, result.outcome)
                await self._record(step=i, step_type=kind, outcome="failed", error=result.reason)
                return "failed"

    async def _await_grant(self) -> SlotMessage | None:
        slots = self.slots
        try:
            await workflow.wait_condition(
                lambda: (
                    slots.grant is not None
                    or slots.reject is not None
                    or self.s.paused
                    or self.s.replied_at is not None
                )
            )
        except asyncio.CancelledError:
            await slots.withdraw()
            raise
        if slots.reject is not None:
            return slots.reject
        if slots.grant is not None and not self.s.paused and self.s.replied_at is None:
            return slots.grant
        await slots.withdraw()
        return None

    async def _perform(self, kind: str, i: int, attempt: int) -> PerformOutput | ApplicationError:
        d = self.data
        texts = d.texts[i]
        self.job.update(message=f"{self._where()}: sending the {self._step_label}")
        try:
            return await perform(
                PerformInput(
                    user_id=d.user_id,
                    account_id=d.account_id,
                    action_type=kind,
                    profile_url=d.profile_url,
                    message=texts.message,
                    note=texts.note,
                    post_url=texts.post_url,
                    attempt=attempt,
                    already_connected_ok=True,
                ),
                timeout=d.activity_timeout_seconds,
                heartbeat=d.heartbeat_timeout_seconds,
            )
        except asyncio.CancelledError:
            await self.slots.release("cancelled")
            raise

    async def _done(self, i: int, kind: str, out: PerformOutput) -> None:
        invited = messaged = False
        if out.details.get("alreadyConnected"):
            self.s.already_connected = True
        elif kind == "sendConnectionRequest":
            self.s.invited_at = workflow.now()
            invited = True
        elif kind == "sendMessage":
            self.s.messages += 1
            messaged = True
        self.s.actions += 1
        user = out.details.get("userId")
        await self._record(
            step=i,
            step_type=kind,
            outcome="done",
            next_step=i + 1,
            acted=True,
            invited=invited,
            messaged=messaged,
            provider_user_id=str(user) if user else None,
        )
        if (invited or messaged) and self.data.poller_id:
            await self._poke(self.data.poller_id)

    async def _hold(self, i: int) -> None:
        if not self.s.paused or self.s.replied_at is not None:
            return
        reason = f" ({self.s.pause_reason})" if self.s.pause_reason else ""
        self._say(f"Paused{reason}: holds before {self._where()}, the next {self._step_label}")
        await workflow.wait_condition(lambda: not self.s.paused or self.s.replied_at is not None)

    def _window(self, not_before: datetime | None) -> datetime | None:
        """Not before the campaign's own window opens (the governor keeps the account's)."""
        hours = self.data.hours
        if hours is None:
            return not_before
        opens = next_open(max(workflow.now(), not_before or workflow.now()), hours)
        return opens if opens > workflow.now() else not_before

    # ---- waits --------------------------------------------------------------------------

    def _start_wait(self, seconds: float) -> datetime:
        if self.s.wait_until is None:
            self.s.wait_started_at = workflow.now()
            self.s.wait_until = workflow.now() + timedelta(seconds=seconds)
        return self.s.wait_until

    def _end_wait(self) -> None:
        self.s.wait_started_at = self.s.wait_until = None

    async def _wait_for_acceptance(self, i: int, step: SequenceStep) -> str:
        until = self._start_wait(step.seconds or 0)
        started = self.s.wait_started_at or workflow.now()
        unit, name = (DAY, "days") if until - started >= 2 * DAY else (HOUR, "hours")
        total = max(1, math.ceil((until - started) / unit))
        accepted = lambda: self.s.accepted_at is not None or self.s.already_connected  # noqa: E731
        while True:
            now = workflow.now()
            if self.s.replied_at is not None:
                return "replied"
            if accepted():
                self._end_wait()
                return "accepted"
            if now >= until:
                self._end_wait()
                return "timeout"
            if self._history_full():
                return "continue"
            elapsed = min(total, (now - started) // unit + 1)
            self._say(f"{self._where()}: waiting for acceptance, {elapsed} of {total} {name}")
            tick = min(until, started + elapsed * unit)
            self._wake_at = tick
            try:
                await workflow.wait_condition(
                    lambda: accepted() or self.s.replied_at is not None, timeout=tick - now
                )
            except TimeoutError:
                pass

    async def _wait(self, i: int, step: SequenceStep) -> str:
        until = self._start_wait(step.seconds or 0)
        message = f"{self._where()}: waiting until {self._local(until)}"
        upcoming = next((s for s in self.data.steps[i + 1 :] if s.type in ACTION_STEPS), None)
        if upcoming is not None:
            at = next_open(until, self.data.hours) if self.data.hours else until
            message += f"; next: {LABELS[upcoming.type]} at {self._local(at)}"
        self._say(message)
        self._wake_at = until
        while workflow.now() < until:
            if self.s.replied_at is not None:
                return "replied"
            try:
                await workflow.wait_condition(
                    lambda: self.s.replied_at is not None, timeout=until - workflow.now()
                )
            except TimeoutError:
                pass
        self._end_wait()
        return "replied" if self.s.replied_at is not None else "done"

    # ---- the end, records, helpers ------------------------------------------------------

    async def _finish(self, outcome: str) -> EnrollmentOutput:
        d = self.data
        status = outcome if outcome in ENDINGS or outcome == "failed" else "completed"
        error = self.error[0] if self.error else None
        out = await self._record(status=status, next_step=self.s.step, error=error)
        payload: dict[str, Any] = {
            "campaignId": d.campaign_id,
            "campaignName": d.campaign_name,
            "enrollmentId": workflow.info().workflow_id,
            "leadId": d.lead_id,
            "profileUrl": d.profile_url,
            "accountId": d.account_id,
            "outcome": status,
            "accepted": self.s.accepted_at is not None or self.s.already_connected,
            "replied": self.s.replied_at is not None,
            "actions": self.s.actions,
        }
        if error:
            payload["error"] = error
        events = [EventInput(name="campaign.enrollment.completed", data=payload)]
        if out.campaign_completed:
            events.append(self._campaign_completed())
        await emit_events(d.user_id, events)
        result = EnrollmentOutput(
            outcome=status,
            steps=self.s.step,
            accepted=payload["accepted"],
            replied=payload["replied"],
            actions=self.s.actions,
        )
        if status == "failed":
            message, error_type = self.error or ("failed", "ActionFailed")
            self.job.fail(f"{self._where()} failed: {message}", error_type)
            raise ApplicationError(message, type=error_type, non_retryable=True)
        self.job.complete(ENDINGS[status], result.model_dump(mode="json"))
        return result

    def _campaign_completed(self) -> EventInput:
        """Announced by whichever enrollment ended last (its id is the campaign's: once)."""
        d, name = self.data, "campaign.completed"
        return EventInput(
            name=name,
            id=event_id_for(d.campaign_id, name),
            data={"campaignId": d.campaign_id, "campaignName": d.campaign_name},
        )

    async def _record(self, **fields: Any) -> RecordEnrollmentOutput:
        d = self.data
        try:
            out: RecordEnrollmentOutput = await workflow.execute_local_activity(
                RECORD_ENROLLMENT,
                RecordEnrollmentInput(
                    user_id=d.user_id,
                    campaign_id=d.campaign_id,
                    enrollment_id=workflow.info().workflow_id,
                    lead_id=d.lead_id,
                    at=workflow.now(),
                    **fields,
                ),
                result_type=RecordEnrollmentOutput,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        except ActivityError as err:  # only a bug in the record gets here
            workflow.logger.error("enrollment step not recorded: %s", err)
            return RecordEnrollmentOutput()
        if out.campaign_status in ("running", "paused"):
            self.on_control(
                ControlSignal(
                    action="pause" if out.campaign_status == "paused" else "resume",
                    reason=out.pause_reason,
                )
            )
        return out

    async def _poke(self, poller: str) -> None:
        """Providers without webhooks: the account's poller looks again (answers are due)."""
        try:
            await workflow.get_external_workflow_handle(poller).signal(SIGNAL_POKE)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # no poller: the next one started finds it anyway
            workflow.logger.warning("could not poke %s: %s", poller, err)

    def _facts(self) -> dict[str, Any]:
        s = self.s
        accepted = s.accepted_at is not None
        return {
            "accepted": accepted,
            "replied": s.replied_at is not None,
            "connected": accepted or s.already_connected,
            "alreadyConnected": s.already_connected,
            "invited": s.invited_at is not None,
            "messaged": s.messages > 0,
            "lead": self.data.lead,
        }

    def _where(self) -> str:
        return f"Step {min(self.s.step + 1, len(self.data.steps))}/{len(self.data.steps)}"

    def _local(self, at: datetime | None) -> str:
        return local_stamp(at, self.data.timezone) if at else "an unknown time"

    def _say(self, message: str) -> None:
        if message != self.job.state.message:
            self.job.update(message=message)

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() >= self.data.history_limit
            or info.is_continue_as_new_suggested()
        )
