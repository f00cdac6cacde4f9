"""Executions end to end: API → Temporal → worker → local HTTP server, and back."""

from __future__ import annotations

import asyncio

from tests.conftest import Stack, new_user, wait_for
from tests.workflows.helpers import (
    create_workflow,
    execute,
    execution,
    finished,
    http_step,
    step,
)
from tests.workflows.server import StepTarget


async def test_nested_templates_flow_between_steps(stack: Stack, steps_target: StepTarget) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step(
                    "first",
                    t.url("/echo/first"),
                    config={
                        "method": "POST",
                        "body": {"name": "{{input.name}}", "n": "{{input.count}}"},
                    },
                ),
                http_step(
                    "second",
                    t.url("/echo/second?ref={{steps.first.output.body.nested.id}}"),
                    config={
                        "method": "POST",
                        "body": {
                            "item": "{{steps.first.output.body.nested.items[1].n}}",
                            "whole": "{{steps.first.output.body.json}}",
                            "text": "hi {{input.name}}, #{{steps.first.output.body.hit}}",
                        },
                    },
                ),
            ],
            output={"echoed": "{{steps.second.output.body.json.text}}"},
        )
        execution_id = await execute(api, wf["id"], {"name": "Ada", "count": 3})
        body = await finished(api, execution_id)
    assert body["status"] == "completed", body
    assert t.bodies["first"] == [{"name": "Ada", "n": 3}]
    assert t.bodies["second"] == [
        {"item": 2, "whole": {"name": "Ada", "n": 3}, "text": "hi Ada, #1"}
    ]
    assert step(body, "second")["output"]["body"]["query"] == {"ref": "id-first"}
    assert body["output"] == {"echoed": "hi Ada, #1"}
    assert body["progress"] == 100 and body["finishedSteps"] == body["totalSteps"] == 2
    assert [s["attempts"] for s in body["steps"]] == [1, 1]


async def test_parallel_branches_overlap_in_time(stack: Stack, steps_target: StepTarget) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step("start", t.url("/echo/start")),
                http_step("left", t.url("/barrier/fan/3"), dependsOn=["start"]),
                http_step("middle", t.url("/barrier/fan/3"), dependsOn=["start"]),
                http_step("right", t.url("/barrier/fan/3"), dependsOn=["start"]),
                http_step("join", t.url("/echo/join"), dependsOn=["left", "middle", "right"]),
            ],
        )
        body = await finished(api, await execute(api, wf["id"]))
    assert body["status"] == "completed", body
    for name in ("left", "middle", "right"):
        assert step(body, name)["output"]["body"] == {"together": True}
    spans = t.spans["fan"]
    assert len(spans) == 3
    assert max(s for s, _e in spans) < min(e for _s, e in spans)  # all three were in flight
    assert step(body, "join")["startedAt"] >= max(
        step(body, n)["finishedAt"] for n in ("left", "middle", "right")
    )


async def test_failing_step_retries_then_continues_on_error(
    stack: Stack, steps_target: StepTarget
) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step(
                    "flaky",
                    "http://127.0.0.1:9/unreachable",
                    continueOnError=True,
                    retry={"maxAttempts": 3, "backoffMs": 10},
                ),
                http_step(
                    "after", t.url("/echo/after?status={{steps.flaky.status}}"), dependsOn=["flaky"]
                ),
            ],
        )
        body = await finished(api, await execute(api, wf["id"]))
    assert body["status"] == "completed", body
    flaky = step(body, "flaky")
    assert flaky["status"] == "failed"
    assert flaky["attempts"] == 3
    assert flaky["errorType"] == "TransientError"
    assert step(body, "after")["output"]["body"]["query"] == {"status": "failed"}


async def test_failing_step_without_continue_fails_the_execution(
    stack: Stack, steps_target: StepTarget
) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step(
                    "bad", "ftp://example.com/file", retry={"maxAttempts": 5, "backoffMs": 10}
                ),
                http_step("never", t.url("/echo/never"), dependsOn=["bad"]),
            ],
        )
        body = await finished(api, await execute(api, wf["id"]))
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "workflow_run"})).json()
    assert body["status"] == "failed"
    assert step(body, "bad")["attempts"] == 1  # invalid input is not retried
    assert step(body, "bad")["errorType"] == "InvalidInputError"
    assert step(body, "never")["status"] == "skipped"
    assert "bad" in body["error"]
    assert t.hits["never"] == 0
    assert body["executionId"] in {j["id"] for j in jobs["data"]["jobs"]}


async def test_cancel_mid_run_stops_running_and_later_steps(
    stack: Stack, steps_target: StepTarget
) -> None:
    _user, key = await new_user(stack)
    t = steps_target
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step("first", t.url("/echo/first")),
                http_step("slow", t.url("/hold/slow"), dependsOn=["first"]),
                http_step("later", t.url("/echo/later"), dependsOn=["slow"]),
            ],
        )
        execution_id = await execute(api, wf["id"])

        async def slow_running() -> bool:
            return t.held["slow"] == 1

        await wait_for(slow_running)
        r = await api.post(f"/api/v1/executions/{execution_id}", json={"action": "cancel"})
        assert r.status_code == 202, r.text
        assert r.json() == {"executionId": execution_id, "status": "cancelling"}
        body = await finished(api, execution_id)
        again = await api.post(f"/api/v1/executions/{execution_id}", json={"action": "cancel"})
    assert body["status"] == "cancelled"
    assert [s["status"] for s in body["steps"]] == ["succeeded", "cancelled", "cancelled"]
    assert t.hits["later"] == 0
    assert again.status_code == 409


async def test_idempotency_key_returns_the_same_execution(
    stack: Stack, steps_target: StepTarget
) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("one", steps_target.url("/echo/one"))])
        url = f"/api/v1/workflows/{wf['id']}/execute"
        first, second = await asyncio.gather(
            *(
                api.post(url, json={"input": {"a": 1}}, headers={"Idempotency-Key": "k-1"})
                for _ in range(2)
            )
        )
        third = await api.post(url, json={"input": {"a": 2}}, headers={"Idempotency-Key": "k-1"})
        other = await api.post(url, json={"input": {"a": 1}}, headers={"Idempotency-Key": "k-2"})
        assert first.status_code == second.status_code == 202
        assert first.json()["executionId"] == second.json()["executionId"]
        assert third.status_code == 409
        assert other.json()["executionId"] != first.json()["executionId"]
        await finished(api, first.json()["executionId"])
        await finished(api, other.json()["executionId"])
    assert steps_target.hits["one"] == 2


async def test_list_filters_by_workflow_and_status(stack: Stack, steps_target: StepTarget) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        good = await create_workflow(api, [http_step("ok", steps_target.url("/echo/ok"))])
        bad = await create_workflow(api, [http_step("no", "ftp://nowhere/x")])
        ok_ids = [await execute(api, good["id"]) for _ in range(2)]
        bad_id = await execute(api, bad["id"])
        for execution_id in [*ok_ids, bad_id]:
            await finished(api, execution_id)

        async def listed() -> dict | None:
            r = await api.get("/api/v1/executions", params={"workflowId": good["id"]})
            body = r.json()
            return body if len(body["executions"]) == 2 else None

        by_workflow = await wait_for(listed)
        failed = (await api.get("/api/v1/executions", params={"status": "failed"})).json()
        page = (await api.get("/api/v1/executions", params={"limit": 1})).json()
        bad_query = await api.get("/api/v1/executions", params={"status": "nope"})
    assert {e["id"] for e in by_workflow["executions"]} == set(ok_ids)
    assert all(e["workflowId"] == good["id"] for e in by_workflow["executions"])
    assert [e["id"] for e in failed["executions"]] == [bad_id]
    assert len(page["executions"]) == 1 and page["pagination"]["hasMore"] is True
    assert bad_query.status_code == 400


async def test_other_users_cannot_see_or_touch_an_execution(
    stack: Stack, steps_target: StepTarget
) -> None:
    _u1, key1 = await new_user(stack)
    _u2, key2 = await new_user(stack)
    async with stack.api(key1) as api:
        wf = await create_workflow(api, [http_step("one", steps_target.url("/echo/one"))])
        execution_id = await execute(api, wf["id"])
        await finished(api, execution_id)
    async with stack.api(key2) as other:
        assert (await other.get(f"/api/v1/executions/{execution_id}")).status_code == 404
        r = await other.post(f"/api/v1/executions/{execution_id}", json={"action": "retry"})
        assert r.status_code == 404
        r = await other.post(f"/api/v1/workflows/{wf['id']}/execute", json={})
        assert r.status_code == 404
        assert (await execution_ids(other)) == []


async def test_retry_needs_the_execute_scope_as_well_as_executions_write(
    stack: Stack, steps_target: StepTarget
) -> None:
    user_id, key = await new_user(stack)
    reading = ["executions:read", "workflows:read"]
    write_only = await user_key(stack, user_id, [*reading, "executions:write"])
    both = await user_key(stack, user_id, [*reading, "executions:write", "workflows:execute"])
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("one", steps_target.url("/echo/one"))])
        execution_id = await execute(api, wf["id"])
        await finished(api, execution_id)
    url = f"/api/v1/executions/{execution_id}"
    async with stack.api(write_only) as api:
        denied = await api.post(url, json={"action": "retry"})
        denied_from_step = await api.post(url, json={"action": "retry", "fromStep": "one"})
        cancelled = await api.post(url, json={"action": "cancel"})
        listed = await execution_ids(api)
    assert denied.status_code == denied_from_step.status_code == 403, denied.text
    assert denied.json() == {
        "error": "Insufficient permissions: this route requires workflows:execute",
        "code": "PERMISSION_DENIED",
    }
    assert cancelled.status_code == 409  # cancelling needs executions:write only (it ended)
    assert listed == [execution_id] and steps_target.hits["one"] == 1
    async with stack.api(both) as api:
        allowed = await api.post(url, json={"action": "retry"})
        assert allowed.status_code == 202, allowed.text
        retried = await finished(api, allowed.json()["executionId"])
    assert retried["status"] == "completed" and retried["retryOf"] == execution_id
    assert steps_target.hits["one"] == 2


async def user_key(stack: Stack, user_id: str, permissions: list[str]) -> str:
    """Another key of an existing user, holding only ``permissions``."""
    async with stack.admin as admin:
        r = await admin.post(
            "/api/v2/keys", json={"name": "scoped", "permissions": permissions, "userId": user_id}
        )
    assert r.status_code == 201, r.text
    return r.json()["key"]  # type: ignore[no-any-return]


async def execution_ids(api) -> list[str]:  # type: ignore[no-untyped-def]
    r = await api.get("/api/v1/executions")
    return [e["id"] for e in r.json()["executions"]]


__all__ = ["execution"]
