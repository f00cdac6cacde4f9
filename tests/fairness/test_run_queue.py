"""Workflow executions over their user's running cap wait as ``pending``, saying why, and
start in order as earlier runs end; runs under the cap take the same path as before."""

from __future__ import annotations

import json
from typing import Any

import httpx
from temporalio.worker import Replayer

from engine.workflows.run_driver import PATCH_RUN_QUEUE
from engine.workflows.workflow_run import WorkflowRunWorkflow
from tests.conftest import Stack, new_user, wait_for
from tests.fairness.conftest import set_limits
from tests.workflows.helpers import create_workflow, execution, finished, http_step
from tests.workflows.server import StepTarget


async def _job(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    r = await api.get(f"/api/v2/users/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def _markers(history: Any) -> list[str]:
    """The patch ids a run recorded."""
    return [
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and "patch-data" in e.marker_recorded_event_attributes.details
    ]


async def test_runs_over_the_cap_wait_pending_with_the_reason(
    stack: Stack, steps_target: StepTarget
) -> None:
    user_id, key = await new_user(stack)
    await set_limits(stack, user_id, quotas={"runningWorkflowRuns": 1})
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("hold", steps_target.url("/hold/cap"))])
        path = f"/api/v1/workflows/{wf['id']}/execute"
        first = (await api.post(path, json={"input": {}})).json()

        async def holding() -> bool:
            return steps_target.held["cap"] == 1

        await wait_for(holding)
        second = (await api.post(path, json={"input": {}, "priority": "high"})).json()
        third = (await api.post(path, json={"input": {}})).json()
        waiting = await _job(api, second["executionId"])
        queued_view = await execution(api, second["executionId"])
        stats = (await api.get("/api/v2/users/jobs")).json()["data"]["statistics"]
        cancelled = await api.delete(f"/api/v2/users/jobs/{third['executionId']}")
        third_end = await finished(api, third["executionId"])
        assert steps_target.held["cap"] == 1  # neither queued run has started a step
        steps_target.release("cap")
        first_end = await finished(api, first["executionId"])
        second_end = await finished(api, second["executionId"])
        done = await _job(api, second["executionId"])

        async def freed() -> dict[str, Any] | None:
            r = await api.get("/api/v2/users/jobs")
            runs = r.json()["data"]["statistics"]["quotas"]["runningWorkflowRuns"]
            return runs if runs == {"limit": 1, "current": 0, "queued": 0} else None

        await wait_for(freed)
    assert first.get("message") is None and first["status"] == "pending"
    assert second["message"] == "waiting: 1 of your executions are running"
    assert waiting["status"] == "pending"
    assert waiting["message"] == "waiting: 1 of your executions are running"
    assert waiting["priority"] == 2 and waiting["fairnessKey"] == user_id  # high: interactive
    assert queued_view["status"] == "pending"
    assert stats["pending"] == 2 and stats["running"] == 1
    assert stats["quotas"]["runningWorkflowRuns"] == {"limit": 1, "current": 1, "queued": 2}
    assert cancelled.status_code == 202 and third_end["status"] == "cancelled"
    assert [s["status"] for s in third_end["steps"]] == ["cancelled"]
    assert first_end["status"] == "completed" and second_end["status"] == "completed"
    assert done["message"] == "Execution completed" and steps_target.hits["cap"] == 2

    replayer = Replayer(workflows=[WorkflowRunWorkflow], data_converter=stack.client.data_converter)
    histories = {}
    for name, run in (("first", first), ("second", second), ("third", third)):
        histories[name] = await stack.client.get_workflow_handle(run["executionId"]).fetch_history()
        await replayer.replay_workflow(histories[name])
    assert PATCH_RUN_QUEUE not in _markers(histories["first"])  # under the cap: as before
    assert PATCH_RUN_QUEUE in _markers(histories["second"])
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in histories["second"].events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals == ["slot_granted"]


async def test_a_slot_left_by_a_terminated_run_is_taken_back_at_the_cap(
    stack: Stack, steps_target: StepTarget
) -> None:
    """A run terminated from outside never releases its slot; at the cap the API checks the
    slot holders against Temporal once and hands the stale slot on."""
    user_id, key = await new_user(stack)
    await set_limits(stack, user_id, quotas={"runningWorkflowRuns": 1})
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("hold", steps_target.url("/hold/stale"))])
        path = f"/api/v1/workflows/{wf['id']}/execute"
        first = (await api.post(path, json={"input": {}})).json()
        await stack.client.get_workflow_handle(first["executionId"]).terminate("operator")
        # (A slot recorded under a minute ago may still be starting: age this one.)
        from store import slot_repo
        from store.workflows import ExecutionRecord

        async with stack.deps.db.session() as session:
            row = await session.get(ExecutionRecord, first["executionId"])
            assert row is not None and row.slot == slot_repo.RUNNING
            row.created_at = row.created_at.replace(year=row.created_at.year - 1)
            session.add(row)
            await session.commit()
        second = (await api.post(path, json={"input": {}})).json()
        steps_target.release("stale")
        second_end = await finished(api, second["executionId"])
    assert second.get("message") is None  # it got the stale slot at once
    assert second_end["status"] == "completed"
