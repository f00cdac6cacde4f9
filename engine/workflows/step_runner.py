"""Running the steps of one ``workflow_run``: readiness, templates, attempts, outcomes.

Workflow code (deterministic): steps are visited in definition order, time
comes from ``workflow.now()``, waits are durable timers, and the data a
template reads is either in the run's state or fetched by a recorded local
activity (for outputs stored by reference).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutError,
    TimeoutType,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.runs import (
        LOAD_STEP_OUTPUTS,
        RUN_WORKFLOW_STEP,
        ConditionConfig,
        DelayConfig,
        LinkedInActionConfig,
        LoadOutputsInput,
        LoadOutputsOutput,
        OutputPath,
        Plan,
        PlanStep,
        RunState,
        StepRunInput,
        StepRunOutput,
        StepState,
        WaitForEventConfig,
        ref_marker,
        secret_placeholder,
    )
    from engine.workflows import templates
    from engine.workflows.run_steps import (
        RunEvents,
        StepFailed,
        linkedin_action,
        wait_for_event,
    )

DONE = ("succeeded", "failed", "skipped")
INLINE_MAX = 32 * 1024  # one output kept in history at most this big…
INLINE_TOTAL = 1024 * 1024  # …and all of a run's outputs together at most this big
MAX_INFRA_RETRIES = 10  # re-dispatches after a lost worker that do not count as attempts
MAX_BACKOFF = timedelta(hours=1)  # the longest backoffMs a definition may ask for
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
LOAD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=5,
    non_retryable_error_types=["NotFoundError"],
)


def _classify(err: ActivityError) -> tuple[str, str, bool, timedelta | None, bool]:
    """(message, type, retryable, delay asked for, lost worker) of one failed attempt."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        etype = cause.type or "ApplicationError"
        retryable = not cause.non_retryable and etype not in PERMANENT_ERROR_TYPES
        return cause.message, etype, retryable, cause.next_retry_delay, False
    if isinstance(cause, TimeoutError):
        if cause.type == TimeoutType.HEARTBEAT:
            return "the worker running the step stopped responding", "Timeout", True, None, True
        return "the step timed out", "Timeout", True, None, False
    return str(cause or err), type(cause or err).__name__, True, None, False


class StepRunner:
    def __init__(
        self,
        plan: Plan,
        state: RunState,
        *,
        user_id: str,
        heartbeat_timeout: float,
        default_timeout: float,
        secret_input_keys: list[str] | None = None,
        secret_input_id: str | None = None,
        events: RunEvents | None = None,
    ) -> None:
        self.plan = plan
        self.events = events or RunEvents()
        self.state = state
        self.user_id = user_id
        # Secret inputs are not in the run's input: templates read placeholders, which the
        # step activity replaces with the sealed values (they never enter history).
        self.secret_inputs = {k: secret_placeholder(k) for k in secret_input_keys or ()}
        self.secret_input_id = secret_input_id
        self.heartbeat_timeout = timedelta(seconds=heartbeat_timeout)
        self.default_timeout = timedelta(seconds=default_timeout)
        self.steps = {s.name: s for s in plan.steps}
        self.records = {r.name: r for r in state.steps}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.excluded: dict[str, str] = {}
        self.fatal: str | None = None

    def record(self, name: str) -> StepState:
        return self.records[name]

    def pending(self) -> list[str]:
        return [s.name for s in self.plan.steps if self.records[s.name].status == "pending"]

    def _skip(self, rec: StepState, reason: str) -> None:
        rec.status = "skipped"
        rec.reason = reason
        rec.finishedAt = workflow.now()

    def start_ready(self) -> None:
        progressed = True
        while progressed:
            progressed = False
            for step in self.plan.steps:
                rec = self.records[step.name]
                if rec.status != "pending" or step.name in self.running:
                    continue
                deps = [self.records[d] for d in step.depends_on]
                if any(d.status not in DONE for d in deps):
                    continue
                progressed = True
                if step.name in self.excluded:
                    self._skip(rec, self.excluded[step.name])
                elif deps and all(d.status == "skipped" for d in deps):
                    self._skip(rec, "every step it depends on was skipped")
                else:
                    rec.status = "running"
                    rec.startedAt = workflow.now()
                    self.running[step.name] = asyncio.create_task(self._run(step, rec))

    def collect(self) -> None:
        for step in self.plan.steps:
            task = self.running.get(step.name)
            if task is None or not task.done():
                continue
            del self.running[step.name]
            rec = self.records[step.name]
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                rec.status, rec.error, rec.errorType = "failed", str(exc), type(exc).__name__
            if rec.status == "failed" and not step.continue_on_error and self.fatal is None:
                self.fatal = step.name
            if step.kind == "condition" and rec.status == "succeeded":
                config = ConditionConfig.model_validate(step.config)
                chosen = bool((rec.output or {}).get("result"))
                for name in config.else_ if chosen else config.then:
                    self.excluded.setdefault(name, f"not chosen by condition {step.name!r}")

    async def cancel_all(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await workflow.wait(tasks)
        for name in list(self.running):
            rec = self.records[name]
            if rec.status == "running":
                rec.status = "cancelled"
                rec.finishedAt = workflow.now()
        self.running.clear()

    def skip_remaining(self, reason: str) -> None:
        for name in self.pending():
            self._skip(self.records[name], reason)

    def context(self) -> dict[str, Any]:
        s = self.state
        return {
            "input": {**s.input, **self.secret_inputs} if self.secret_inputs else s.input,
            "steps": {
                r.name: {
                    "output": r.output,
                    "status": r.status,
                    "error": r.error,
                    "errorType": r.errorType,
                    "attempts": r.attempts,
                }
                for r in s.steps
            },
            "execution": {
                "id": s.executionId,
                "workflowId": s.workflowId,
                "version": s.version,
                "scheduleId": s.scheduleId,
            },
        }

    async def _context_for(self, step: PlanStep) -> dict[str, Any]:
        """The context a step's templates read, with stored outputs fetched where read."""
        ctx = self.context()
        sources = [e for _f, e in templates.expressions(step.config)]
        if step.if_:
            sources += [e for _f, e in templates.expressions(step.if_)] or [step.if_]
        wanted: list[tuple[str, list[str | int]]] = []
        for expression in sources:
            for parts in templates.paths(templates.parse(expression)):
                if parts[0] != "steps" or len(parts) < 2 or not isinstance(parts[1], str):
                    continue
                rec = self.records.get(parts[1])
                if (
                    rec is None
                    or rec.outputRef is None
                    or (len(parts) > 2 and parts[2] != "output")
                ):
                    continue
                wanted.append((parts[1], list(parts[3:])))
        if not wanted:
            return ctx
        loaded: LoadOutputsOutput = await workflow.execute_local_activity(
            LOAD_STEP_OUTPUTS,
            LoadOutputsInput(
                user_id=self.user_id,
                paths=[OutputPath(ref=self.records[n].outputRef or "", path=p) for n, p in wanted],
            ),
            result_type=LoadOutputsOutput,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=LOAD_RETRY,
        )
        trees: dict[str, Any] = {}
        for (name, path), value in zip(wanted, loaded.values, strict=True):
            if not path:
                trees[name] = value
                continue
            tree = trees.setdefault(name, {})
            if not isinstance(tree, dict):
                continue  # the whole output was loaded already
            for part in path[:-1]:
                tree = tree.setdefault(str(part), {})
            tree[str(path[-1])] = value
        for name, tree in trees.items():
            ctx["steps"][name]["output"] = tree
        return ctx

    async def _run(self, step: PlanStep, rec: StepState) -> None:
        try:
            ctx = await self._context_for(step)
            if step.if_ and not templates.condition(step.if_, ctx):
                self._skip(rec, "its 'if' was false")
                return
            if step.kind == "delay":
                delay = DelayConfig.model_validate(templates.render(step.config, ctx))
                rec.attempts = 1
                await workflow.sleep(timedelta(milliseconds=delay.ms))
                rec.output = {"ms": delay.ms}
            elif step.kind == "condition":
                rec.attempts = 1
                expression = str(step.config.get("expression", ""))
                rec.output = {"result": templates.condition(expression, ctx)}
            elif step.kind == "wait_for_event":
                rec.attempts = 1
                config = WaitForEventConfig.model_validate(templates.render(step.config, ctx))
                rec.output = await wait_for_event(self.events, config)
            elif step.kind == "linkedin_action":
                rec.attempts += 1
                rec.output = await linkedin_action(
                    LinkedInActionConfig.model_validate(templates.render(step.config, ctx)),
                    user_id=self.user_id,
                    state=self.state,
                    step=step.name,
                    heartbeat_timeout=self.heartbeat_timeout,
                )
            else:
                await self._action(step, rec, ctx)
            rec.status = "succeeded"
            rec.error = rec.errorType = None
        except StepFailed as failed:
            rec.status, rec.error, rec.errorType = "failed", failed.message, failed.error_type
        except ValidationError as exc:
            problems = exc.errors(include_url=False, include_input=False)
            rec.status, rec.errorType = "failed", "InvalidInputError"
            rec.error = "invalid config: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems
            )
        except asyncio.CancelledError:
            rec.status = "cancelled"
            raise
        finally:
            # An evicted workflow's coroutines are closed outside its event loop, where
            # there is no workflow clock to read (and no state left to keep).
            if workflow.in_workflow():
                rec.finishedAt = workflow.now()

    def _inline_limit(self) -> int:
        used = sum(r.outputSize or 0 for r in self.state.steps if r.outputRef is None)
        share = (INLINE_TOTAL - used) // max(1, len(self.running))
        return max(1024, min(INLINE_MAX, share))

    async def _action(self, step: PlanStep, rec: StepState, ctx: dict[str, Any]) -> None:
        params = templates.render(step.config, ctx)
        timeout = (
            timedelta(milliseconds=step.timeout_ms) if step.timeout_ms else self.default_timeout
        )
        lost = 0
        while True:
            rec.attempts += 1
            try:
                out: StepRunOutput = await workflow.execute_activity(
                    RUN_WORKFLOW_STEP,
                    StepRunInput(
                        user_id=self.user_id,
                        execution_id=self.state.executionId,
                        step=step.name,
                        tool=step.tool or "",
                        params=params,
                        credential_id=step.credential_id,
                        connector_id=step.connector_id,
                        sealed_secret_id=step.sealed_secret_id,
                        inline_limit=self._inline_limit(),
                        secret_input_id=self.secret_input_id,
                    ),
                    result_type=StepRunOutput,
                    start_to_close_timeout=timeout,
                    heartbeat_timeout=self.heartbeat_timeout,
                    retry_policy=ONE_ATTEMPT,
                    summary=f"step {step.name}: {step.tool or 'action'}",
                )
            except ActivityError as err:
                if is_cancelled_exception(err):
                    raise asyncio.CancelledError() from err
                message, etype, retryable, delay, lost_worker = _classify(err)
                rec.error, rec.errorType = message, etype
                if lost_worker and lost < MAX_INFRA_RETRIES:
                    lost += 1
                    rec.attempts -= 1
                    continue
                if not retryable or rec.attempts >= step.max_attempts:
                    raise StepFailed(message, etype) from err
                backoff = timedelta(milliseconds=step.backoff_ms * 2 ** (rec.attempts - 1))
                await workflow.sleep(min(delay or backoff, MAX_BACKOFF))
                continue
            rec.outputSize = out.size
            if out.ref is not None:
                rec.outputRef = out.ref
                rec.output = ref_marker(out.ref, out.size)
            else:
                rec.output = out.output
            return

    def final_output(self) -> Any:
        """The definition's ``output`` template, or the outputs of the steps nothing reads."""
        if self.plan.output is not None:
            return templates.render(self.plan.output, self.context())
        used = {d for s in self.plan.steps for d in s.depends_on}
        return {
            s.name: self.records[s.name].output
            for s in self.plan.steps
            if s.name not in used and self.records[s.name].status == "succeeded"
        }
