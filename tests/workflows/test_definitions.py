"""Definitions: validation (422 naming step and field), versions, public copies, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Stack, new_user, wait_for
from tests.workflows.helpers import create_workflow, execute, finished, http_step, step
from tests.workflows.server import StepTarget

URL = "http://127.0.0.1:9/x"

BAD: dict[str, tuple[list[dict[str, Any]], str, str, str]] = {
    "unknown type": (
        [{"name": "a", "type": "teleport", "config": {}}],
        "a",
        "type",
        "unknown step type",
    ),
    "unknown action": (
        [{"name": "a", "type": "slack.fax", "config": {}}],
        "a",
        "type",
        "has no action 'fax'",
    ),
    "missing dependency": (
        [http_step("a", URL, dependsOn=["ghost"])],
        "a",
        "dependsOn",
        "missing step 'ghost'",
    ),
    "missing template step": (
        [http_step("a", URL + "?q={{steps.ghost.output.id}}")],
        "a",
        "config.url",
        "missing step 'ghost'",
    ),
    "cycle": (
        [
            http_step("a", URL, dependsOn=["c"]),
            http_step("b", URL, dependsOn=["a"]),
            http_step("c", URL, dependsOn=["b"]),
        ],
        "a",
        "dependsOn",
        "cycle: a → c → b → a",
    ),
    "cycle through a template": (
        [
            http_step("a", URL + "?x={{steps.b.output.status}}"),
            http_step("b", URL, dependsOn=["a"]),
        ],
        "a",
        "dependsOn",
        "cycle",
    ),
    "missing required config": (
        [{"name": "a", "type": "http_request", "config": {}}],
        "a",
        "config.url",
        "is required",
    ),
    "missing slack config": (
        [{"name": "post", "type": "slack.send_message", "config": {"channel": "#x"}}],
        "post",
        "config.text",
        "required",
    ),
    "bad config value": (
        [http_step("a", URL, config={"method": "FETCH"})],
        "a",
        "config.method",
        "GET",
    ),
    "unknown config field": (
        [http_step("a", URL, config={"urll": "x"})],
        "a",
        "config.urll",
        "Extra inputs",
    ),
    "bad template": (
        [http_step("a", URL + "?q={{input.a ==}}")],
        "a",
        "config.url",
        "invalid template",
    ),
    "unknown template root": (
        [http_step("a", URL + "?q={{secrets.key}}")],
        "a",
        "config.url",
        "unknown name 'secrets'",
    ),
    "duplicate name": ([http_step("a", URL), http_step("a", URL)], "a", "name", "another step"),
    "bad if": ([http_step("a", URL, **{"if": "input.x >"})], "a", "if", "invalid template"),
    "delay without ms": (
        [{"name": "wait", "type": "delay", "config": {}}],
        "wait",
        "config.ms",
        "required",
    ),
    "condition branch to nowhere": (
        [{"name": "c", "type": "condition", "config": {"expression": "true", "then": ["ghost"]}}],
        "c",
        "config.then",
        "missing step 'ghost'",
    ),
    "bad retry": (
        [http_step("a", URL, retry={"maxAttempts": 0})],
        "a",
        "retry.maxAttempts",
        "greater than or equal to 1",
    ),
    "no name": ([{"type": "http_request", "config": {"url": URL}}], "#1", "name", "required"),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_each_bad_definition_is_a_422_naming_step_and_field(stack: Stack, case: str) -> None:
    steps, bad_step, field, words = BAD[case]
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/workflows", json={"name": "bad", "definition": {"steps": steps}}
        )
        listed = (await api.get("/api/v1/workflows")).json()
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "INVALID_DEFINITION"
    assert any(
        e["step"] == bad_step and e["field"] == field and words in e["message"]
        for e in body["details"]["errors"]
    ), body
    assert f"step {bad_step!r}" in body["error"] and field in body["error"]
    assert listed == []


async def test_versions_keep_running_executions_on_the_version_they_started(
    stack: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("v", t.url("/hold/v1"))])
        assert wf["version"] == 1
        running = await execute(api, wf["id"])

        async def held() -> bool:
            return t.held["v1"] == 1

        await wait_for(held)
        renamed = (await api.put(f"/api/v1/workflows/{wf['id']}", json={"name": "new"})).json()
        r = await api.put(
            f"/api/v1/workflows/{wf['id']}",
            json={"definition": {"steps": [http_step("v", t.url("/echo/v2"))]}},
        )
        assert r.status_code == 200, r.text
        t.release("v1")
        old = await finished(api, running)
        new = await finished(api, await execute(api, wf["id"]))
        got = (await api.get(f"/api/v1/workflows/{wf['id']}")).json()
    assert renamed["version"] == 1 and renamed["name"] == "new"
    assert r.json()["version"] == 2 and got["version"] == 2
    assert old["version"] == 1 and step(old, "v")["output"]["body"] == {"released": "v1"}
    assert new["version"] == 2 and t.hits["v2"] == 1


async def test_public_workflows_are_listed_and_copied_never_run_with_owner_credentials(
    stack: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _owner, owner_key = await new_user(stack)
    _other, other_key = await new_user(stack)
    async with stack.api(owner_key) as owner:
        r = await owner.post(
            "/api/v1/credentials",
            json={
                "name": "bearer",
                "provider": "http",
                "type": "custom",
                "data": {"type": "bearer", "token": "owner-token"},
            },
        )
        assert r.status_code == 201, r.text
        credential_id = r.json()["id"]
        wf = await create_workflow(
            owner,
            [
                http_step("call", t.url("/echo/call"), credentialId=credential_id),
                http_step(
                    "inline",
                    t.url("/echo/inline"),
                    config={
                        "headers": {
                            "Authorization": "Bearer inline-secret",
                            "X-Trace": "{{input.trace}}",
                        }
                    },
                ),
            ],
            name="shared",
        )
        await owner.put(f"/api/v1/workflows/{wf['id']}", json={"isPublic": True})
        mine = await finished(owner, await execute(owner, wf["id"], {"trace": "t1"}))
    assert mine["status"] == "completed", mine
    assert t.headers["call"][0]["authorization"] == "Bearer owner-token"
    assert t.headers["inline"][0]["authorization"] == "Bearer inline-secret"
    assert t.headers["inline"][0]["x-trace"] == "t1"
    assert "inline-secret" not in str(mine)

    async with stack.api(other_key) as other:
        public = (await other.get("/api/v1/workflows", params={"public": "true"})).json()
        seen = (await other.get(f"/api/v1/workflows/{wf['id']}")).json()
        run_theirs = await other.post(f"/api/v1/workflows/{wf['id']}/execute", json={})
        edit_theirs = await other.put(f"/api/v1/workflows/{wf['id']}", json={"name": "x"})
        r = await other.post(f"/api/v1/workflows/{wf['id']}/copy", json={})
        assert r.status_code == 201, r.text
        copy = r.json()
        steps_without_credentials = await other.post(
            f"/api/v1/workflows/{copy['id']}/execute", json={"input": {"trace": "t2"}}
        )
        body = await finished(other, steps_without_credentials.json()["executionId"])
        reuse = await other.put(
            f"/api/v1/workflows/{copy['id']}",
            json={
                "definition": {
                    "steps": [http_step("call", t.url("/echo/call"), credentialId=credential_id)]
                }
            },
        )
        run_with_theirs = await other.post(f"/api/v1/workflows/{copy['id']}/execute", json={})
    assert wf["id"] in {w["id"] for w in public} and not any(w["owned"] for w in public)
    assert all(s["credentialId"] is None for s in seen["definition"]["steps"])
    assert "inline-secret" not in str(seen)
    assert run_theirs.status_code == 404 and edit_theirs.status_code == 404
    assert copy["isPublic"] is False and copy["copiedFrom"] == wf["id"] and copy["owned"]
    assert body["status"] == "completed", body
    assert "authorization" not in t.headers["call"][1]  # the copy has no credential of theirs
    assert "authorization" not in t.headers["inline"][1]
    assert reuse.status_code == 200
    assert run_with_theirs.status_code == 422
    assert run_with_theirs.json()["details"]["errors"][0] == {
        "step": "call",
        "field": "credentialId",
        "message": "credential not found",
    }


async def test_sealed_secrets_show_masked_and_survive_an_update(
    stack: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(
            api,
            [
                http_step(
                    "s", t.url("/echo/s"), config={"auth": {"type": "bearer", "token": "tok-1"}}
                )
            ],
        )
        shown = wf["definition"]["steps"][0]["config"]
        r = await api.put(
            f"/api/v1/workflows/{wf['id']}",
            json={
                "definition": {
                    "steps": [
                        {**wf["definition"]["steps"][0], "config": {**shown, "method": "POST"}}
                    ]
                }
            },
        )
        assert r.status_code == 200, r.text
        body = await finished(api, await execute(api, wf["id"]))
    assert shown["auth"] == "********"
    assert r.json()["version"] == 2
    assert body["status"] == "completed", body
    assert t.headers["s"][0]["authorization"] == "Bearer tok-1"


async def test_connector_instances_and_required_credentials(
    stack: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/credentials",
            json={
                "name": "k",
                "provider": "http",
                "type": "custom",
                "data": {"type": "api_key", "key": "k-123", "header": "X-Key"},
            },
        )
        assert r.status_code == 201, r.text
        r = await api.post(
            "/api/v1/connectors",
            json={"name": "api", "type": "http", "credentialId": r.json()["id"]},
        )
        assert r.status_code == 201, r.text
        wf = await create_workflow(
            api, [http_step("c", t.url("/echo/c"), connectorId=r.json()["id"])]
        )
        body = await finished(api, await execute(api, wf["id"]))
        slack = await create_workflow(
            api,
            [
                {
                    "name": "post",
                    "type": "slack.send_message",
                    "config": {"channel": "#x", "text": "hi"},
                }
            ],
        )
        refused = await api.post(f"/api/v1/workflows/{slack['id']}/execute", json={})
    assert body["status"] == "completed", body
    assert t.headers["c"][0]["x-key"] == "k-123"
    assert refused.status_code == 422
    assert refused.json()["details"]["errors"][0]["field"] == "credentialId"


async def test_crud_round_trip(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("a", URL)], name="crud")
        listed = (await api.get("/api/v1/workflows")).json()
        deleted = await api.delete(f"/api/v1/workflows/{wf['id']}")
        gone = await api.get(f"/api/v1/workflows/{wf['id']}")
        missing_body = await api.post("/api/v1/workflows", json={"name": "x"})
        not_json = await api.post("/api/v1/workflows", content=b"{")
    assert [w["id"] for w in listed] == [wf["id"]]
    assert set(listed[0]) >= {"id", "name", "description", "isPublic", "createdAt", "updatedAt"}
    assert deleted.status_code == 200 and gone.status_code == 404
    assert missing_body.status_code == 400 and not_json.status_code == 400
