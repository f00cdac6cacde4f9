"""Control flow: if, condition branches, delay, retry and retry from a step, big outputs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from engine.models import queues
from engine.models.events import PublishEventsOutput
from engine.models.runs import FinishRunInput
from tests.conftest import Stack, make_settings, new_user, run_stack
from tests.workflows.helpers import create_workflow, execute, finished, http_step, step
from tests.workflows.server import StepTarget
from worker import queue_plans, queue_worker


async def test_condition_branches_if_and_delay(stack: Stack, steps_target: StepTarget) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step("fetch", t.url("/echo/fetch")),
                {
                    "name": "big_enough",
                    "type": "condition",
                    "config": {
                        "expression": "{{steps.fetch.output.body.hit >= input.min}}",
                        "then": ["yes"],
                        "else": ["no"],
                    },
                },
                http_step("yes", t.url("/echo/yes")),
                http_step("yes_after", t.url("/echo/yes_after"), dependsOn=["yes"]),
                http_step("no", t.url("/echo/no")),
                {
                    "name": "pause",
                    "type": "delay",
                    "config": {"ms": 50},
                    "dependsOn": ["yes", "no"],
                },
                http_step(
                    "guarded",
                    t.url("/echo/guarded"),
                    dependsOn=["pause"],
                    **{"if": "input.flag == 'on' && steps.pause.status == 'succeeded'"},
                ),
            ],
        )
        low = await finished(api, await execute(api, wf["id"], {"min": 5, "flag": "off"}))
        high = await finished(api, await execute(api, wf["id"], {"min": 1, "flag": "on"}))
    assert low["status"] == high["status"] == "completed"
    assert step(low, "big_enough")["output"] == {"result": False}
    assert [step(low, n)["status"] for n in ("yes", "yes_after", "no", "pause", "guarded")] == [
        "skipped",
        "skipped",
        "succeeded",
        "succeeded",
        "skipped",
    ]
    assert step(low, "yes")["reason"] == "not chosen by condition 'big_enough'"
    assert step(low, "guarded")["reason"] == "its 'if' was false"
    assert [step(high, n)["status"] for n in ("yes", "yes_after", "no", "pause", "guarded")] == [
        "succeeded",
        "succeeded",
        "skipped",
        "succeeded",
        "succeeded",
    ]
    assert t.hits["yes"] == t.hits["no"] == t.hits["guarded"] == 1


async def test_retry_and_retry_from_step_reuse_earlier_outputs(
    stack: Stack, steps_target: StepTarget
) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step("a", t.url("/echo/a"), config={"method": "POST", "body": "{{input}}"}),
                http_step("b", t.url("/echo/b?from={{steps.a.output.body.hit}}"), dependsOn=["a"]),
                http_step(
                    "c",
                    t.url("/hold/c"),
                    dependsOn=["b"],
                    timeoutMs=500,
                    retry={"maxAttempts": 1, "backoffMs": 0},
                ),
            ],
        )
        first = await finished(api, await execute(api, wf["id"], {"x": 1}))
        assert first["status"] == "failed" and step(first, "c")["errorType"] == "Timeout"
        t.release("c")
        r = await api.post(
            f"/api/v1/executions/{first['id']}", json={"action": "retry", "fromStep": "c"}
        )
        assert r.status_code == 202, r.text
        resumed = await finished(api, r.json()["executionId"])
        unknown = await api.post(
            f"/api/v1/executions/{first['id']}", json={"action": "retry", "fromStep": "zz"}
        )
        r = await api.post(f"/api/v1/executions/{first['id']}", json={"action": "retry"})
        again = await finished(api, r.json()["executionId"])
    assert resumed["status"] == "completed", resumed
    assert resumed["retryOf"] == first["id"] and resumed["fromStep"] == "c"
    assert [step(resumed, n)["reused"] for n in ("a", "b", "c")] == [True, True, False]
    assert step(resumed, "b")["output"] == step(first, "b")["output"]
    assert unknown.status_code == 422
    assert again["status"] == "completed" and again["input"] == {"x": 1}
    assert not any(s["reused"] for s in again["steps"])
    assert (t.hits["a"], t.hits["b"], t.hits["c"]) == (2, 2, 3)
    assert t.bodies["a"] == [{"x": 1}, {"x": 1}]


async def test_large_outputs_go_by_reference_and_templates_still_read_them(
    stack: Stack, steps_target: StepTarget
) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step("big", t.url("/big/100")),
                http_step(
                    "use",
                    t.url("/echo/use?id={{steps.big.output.body.items[0].id}}"),
                    **{"if": "steps.big.output.status == 200"},
                ),
            ],
        )
        body = await finished(api, await execute(api, wf["id"]))
        full = await api.get(f"/api/v1/executions/{body['id']}/steps/big/output")
        missing = await api.get(f"/api/v1/executions/{body['id']}/steps/nope/output")
    assert body["status"] == "completed", body
    big = step(body, "big")
    assert big["outputRef"] and big["output"]["$ref"] == big["outputRef"]
    assert big["outputSize"] > 100 * 1024
    assert step(body, "use")["output"]["body"]["query"] == {"id": "first"}
    assert full.status_code == 200
    assert len(full.json()["output"]["body"]["blob"]) == 100 * 1024
    assert missing.status_code == 404


async def test_a_run_recording_its_end_reads_and_retries_as_finished(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    tmp_path: Path,
    steps_target: StepTarget,
) -> None:
    """Between settling its status and recording its end (the finishing local activity),
    Temporal still calls a run Running while its state says failed: retry from a step is
    accepted then (it was a 409 in that window). Held here by a gated finishing activity on
    this test's own worker. (The retry's state query waits for the workflow task's
    heartbeat while the local activity runs: about 8 s.)"""
    settings = make_settings(temporal_env, database_url, tmp_path)
    entered, gate = asyncio.Event(), asyncio.Event()
    async with run_stack(temporal_env, settings, with_worker=False) as s:
        plan = queue_plans(s.deps)[queues.WORKFLOWS]
        finish = next(a for a in plan.activities if a.__name__ == "finish_workflow_run")

        @activity.defn(name="finish_workflow_run")
        async def held_finish(data: FinishRunInput) -> PublishEventsOutput:
            entered.set()
            await gate.wait()
            return await finish(data)  # type: ignore[no-any-return]

        plan.activities = [held_finish if a is finish else a for a in plan.activities]
        worker = queue_worker(s.client, s.deps, queues.WORKFLOWS, plan)
        _user, key = await new_user(s)
        t = steps_target
        async with worker, s.api(key) as api:
            wf = await create_workflow(
                api,
                [
                    http_step("a", t.url("/echo/a")),
                    http_step(
                        "c",
                        t.url("/hold/c"),
                        dependsOn=["a"],
                        timeoutMs=300,
                        retry={"maxAttempts": 1, "backoffMs": 0},
                    ),
                ],
            )
            first = await execute(api, wf["id"])
            try:
                await asyncio.wait_for(entered.wait(), timeout=30)
                description = await s.client.get_workflow_handle(first).describe()
                t.release("c")
                retried = await api.post(
                    f"/api/v1/executions/{first}", json={"action": "retry", "fromStep": "c"}
                )
            finally:
                gate.set()
            assert description.status == WorkflowExecutionStatus.RUNNING
            assert retried.status_code == 202, retried.text
            resumed = await finished(api, retried.json()["executionId"])
    assert resumed["status"] == "completed"
    assert [step(resumed, n)["reused"] for n in ("a", "c")] == [True, False]
