"""The ``wait_for_event`` step: resumed by an event sent to the execution, or timed out
(durable timers on the time-skipping server), and events sent through the API."""

from __future__ import annotations

import time

import pytest
from temporalio.client import WorkflowFailureError

from engine.models.runs import RunEvent, RunState
from tests.conftest import Stack, new_user
from tests.linkedin.helpers import record_history
from tests.workflows.helpers import create_workflow, execute, finished, http_step, step
from tests.workflows.skipping import Skipping, skipping

__all__ = ["skipping"]


def approval(**config: object) -> dict[str, object]:
    return {
        "name": "approve",
        "type": "wait_for_event",
        "config": {"event": "approval", "timeoutMs": 24 * 3600 * 1000, **config},
    }


async def test_an_event_sent_early_waits_for_its_step(skipping: Skipping) -> None:
    t = skipping.target
    handle = await skipping.start(
        [
            {"name": "first", "type": "delay", "config": {"ms": 3600 * 1000}},
            {**approval(), "dependsOn": ["first"]},
            {
                "name": "after",
                "type": "http_request",
                "config": {"url": t.url("/echo/ok?by={{steps.approve.output.payload.by}}")},
            },
        ]
    )
    await handle.signal("run_event", RunEvent(name="other", payload={"by": "nobody"}))
    await handle.signal("run_event", RunEvent(name="approval", payload={"by": "ada"}, id="e1"))
    await handle.signal("run_event", RunEvent(name="approval", payload={"by": "bob"}, id="e1"))
    state: RunState = await handle.result()
    steps = {s.name: s for s in state.steps}
    assert state.status == "completed"
    assert steps["approve"].output["payload"] == {"by": "ada"}
    assert steps["approve"].output["timedOut"] is False
    assert steps["after"].output["body"]["query"] == {"by": "ada"}
    await record_history(skipping.client, handle.id, "workflow_run_wait_for_event_v4")


async def test_no_event_times_out(skipping: Skipping) -> None:
    handle = await skipping.start([approval()])
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert time.monotonic() - started < 30  # a day passed in moments
    state = await handle.query("run_state", result_type=RunState)
    approve = state.steps[0]
    assert approve.status == "failed" and approve.errorType == "EventTimeout"
    handle = await skipping.start([approval(onTimeout="continue")])
    state = await handle.result()
    assert state.steps[0].status == "succeeded" and state.steps[0].output["timedOut"] is True


async def test_events_reach_executions_through_the_api(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [approval(), http_step("use", "http://127.0.0.1:9/{{steps.approve.output.payload.x}}")],
        )
        bad = await api.post(
            "/api/v1/workflows",
            json={
                "name": "bad",
                "definition": {"steps": [{"name": "w", "type": "wait_for_event", "config": {}}]},
            },
        )
        assert bad.status_code == 422 and "config.event" in bad.text
        execution_id = await execute(api, wf["id"])
        events = f"/api/v1/executions/{execution_id}/events"
        r = await api.post(events, json={"name": "approval", "payload": {"x": 1}})
        assert r.status_code == 202, r.text
        assert r.json() == {"executionId": execution_id, "event": "approval", "status": "accepted"}
        body = await finished(api, execution_id)
        assert step(body, "approve")["output"]["payload"] == {"x": 1}
        r = await api.post(f"/api/v1/executions/{execution_id}/events", json={"name": "approval"})
        assert r.status_code == 409 and r.json()["code"] == "EXECUTION_FINISHED"
        r = await api.post(
            f"/api/v1/executions/{execution_id}/events",
            json={"name": "x", "payload": "y" * 70_000},
        )
        assert r.status_code == 422 and r.json()["code"] == "EVENT_TOO_LARGE"
        r = await api.post(f"/api/v1/executions/{execution_id}/events", json={"name": "bad name"})
        assert r.status_code == 422
    _other, other = await new_user(stack)
    async with stack.api(other) as api:
        r = await api.post(f"/api/v1/executions/{execution_id}/events", json={"name": "approval"})
        assert r.status_code == 404


async def test_a_trigger_url_starts_executions(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(api, [approval(timeoutMs=1000, onTimeout="continue")])
        r = await api.get(f"/api/v1/workflows/{wf['id']}/trigger")
        assert r.status_code == 404 and r.json()["code"] == "TRIGGER_NOT_FOUND"
        made = (await api.post(f"/api/v1/workflows/{wf['id']}/trigger")).json()
        assert made["token"].startswith("wtk_") and made["url"].endswith(made["token"])
        shown = (await api.get(f"/api/v1/workflows/{wf['id']}/trigger")).json()
        assert shown["preview"] == made["preview"] and "token" not in shown
    path = f"/api/v1/workflows/{wf['id']}/trigger/{made['token']}"
    async with stack.api() as anon:
        r = await anon.post(path, json={"order": 42})
        assert r.status_code == 202, r.text
        execution_id = r.json()["executionId"]
        r = await anon.post(path, json=[1, 2])
        assert r.status_code == 202
        listed_input = r.json()["executionId"]
        r = await anon.post(path + "x", json={})
        assert r.status_code == 404
        r = await anon.post(path, content=b"{" + b" " * 300_000 + b"}")
        assert r.status_code == 413
    async with stack.api(key) as api:
        body = await finished(api, execution_id)
        assert body["input"] == {"order": 42} and body["status"] == "completed"
        assert (await finished(api, listed_input))["input"] == {"body": [1, 2]}
        rotated = (await api.post(f"/api/v1/workflows/{wf['id']}/trigger")).json()
        assert rotated["token"] != made["token"]
    async with stack.api() as anon:
        assert (await anon.post(path, json={})).status_code == 404  # the old secret is gone
    async with stack.api(key) as api:
        assert (await api.delete(f"/api/v1/workflows/{wf['id']}/trigger")).status_code == 204
        assert (await api.delete(f"/api/v1/workflows/{wf['id']}/trigger")).status_code == 404
