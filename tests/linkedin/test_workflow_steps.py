"""``linkedin_action`` steps of user workflows: governed actions as child jobs."""

from __future__ import annotations

from tests.conftest import Stack, new_user
from tests.linkedin.helpers import connect, fast_settings, record_history
from tests.workflows.helpers import create_workflow, execute, finished, step

PROFILE = "https://www.linkedin.com/in/ada-lovelace"


def action(**config: object) -> dict[str, object]:
    return {"name": "view", "type": "linkedin_action", "config": config}


async def test_a_workflow_step_runs_a_governed_linkedin_action(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/workflows",
            json={
                "name": "bad",
                "definition": {
                    "steps": [action(actionType="viewProfile", profileUrl="https://example.com/x")]
                },
            },
        )
        assert r.status_code == 422 and "config.profileUrl" in r.text
        wf = await create_workflow(
            api,
            [
                action(actionType="viewProfile", profileUrl="{{input.url}}"),
                {
                    "name": "greet",
                    "type": "linkedin_action",
                    "dependsOn": ["view"],
                    "config": {
                        "actionType": "sendMessage",
                        "profileUrl": "{{input.url}}",
                        "message": "Hi {{input.name}}",
                    },
                },
            ],
        )
        r = await api.post(f"/api/v1/workflows/{wf['id']}/execute", json={"input": {}})
        assert r.status_code == 422 and "LinkedIn is not connected" in r.text
    await connect(stack, key)
    await fast_settings(stack, key)
    async with stack.api(key) as api:
        execution_id = await execute(api, wf["id"], {"url": PROFILE, "name": "Ada"})
        body = await finished(api, execution_id)
        assert body["status"] == "completed", body
        assert step(body, "greet")["output"]["summary"] == "message sent"
        jobs = (await api.get("/api/v2/users/jobs", params={"type": "linkedin_action"})).json()[
            "data"
        ]["jobs"]
    await record_history(stack.client, execution_id, "workflow_run_linkedin_v4")
    mine = [j for j in jobs if j["metadata"].get("executionId") == execution_id]
    assert sorted(j["metadata"]["step"] for j in mine) == ["greet", "view"]
    assert {j["status"] for j in mine} == {"completed"}
