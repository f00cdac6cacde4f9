"""Schedules on Temporal Schedules: cron in a time zone, overlap, pause/resume, runs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from temporalio.client import ScheduleOverlapPolicy

from tests.conftest import Stack, new_user, wait_for
from tests.workflows.helpers import create_workflow, finished, http_step, memo_writes, step
from tests.workflows.server import StepTarget


async def test_schedule_lifecycle_and_runs_are_ordinary_executions(
    stack: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("tick", t.url("/echo/tick?who={{input.who}}"))])
        r = await api.post(
            f"/api/v1/workflows/{wf['id']}/schedules",
            json={"cron": "30 9 * * 1", "timezone": "Europe/Berlin", "input": {"who": "cron"}},
        )
        assert r.status_code == 201, r.text
        sched = r.json()
        schedule_id = sched["id"]
        next_run = datetime.fromisoformat(sched["nextRunTimes"][0]).astimezone(
            ZoneInfo("Europe/Berlin")
        )
        listed = (await api.get(f"/api/v1/workflows/{wf['id']}/schedules")).json()

        r = await api.post(f"/api/v1/schedules/{schedule_id}/trigger")
        assert r.status_code == 202, r.text

        async def ran() -> str | None:
            got = (await api.get(f"/api/v1/schedules/{schedule_id}")).json()
            return got["recentExecutions"][0] if got["recentExecutions"] else None

        execution_id = await wait_for(ran)
        body = await finished(api, execution_id)
        r = await api.post(f"/api/v1/workflows/{wf['id']}/execute", json={"input": {"who": "api"}})
        direct = (await finished(api, r.json()["executionId"]))["executionId"]
        # Scheduled and API runs are started with the memo they begin with (lean begin): the
        # only memo a run writes is at its end.
        writes = []
        for handle in map(stack.client.get_workflow_handle, (execution_id, direct)):
            await handle.result()  # (GET says completed while the run records its end)
            writes.append(memo_writes(await handle.fetch_history()))

        async def listed_by_workflow() -> bool:
            r = await api.get("/api/v1/executions", params={"workflowId": wf["id"]})
            return execution_id in {e["id"] for e in r.json()["executions"]}

        await wait_for(listed_by_workflow)
        paused = (await api.patch(f"/api/v1/schedules/{schedule_id}", json={"paused": True})).json()
        resumed = (
            await api.patch(
                f"/api/v1/schedules/{schedule_id}",
                json={
                    "paused": False,
                    "cron": "0 12 * * *",
                    "timezone": "America/New_York",
                    "overlapPolicy": "cancel_previous",
                    "input": {"who": "patched"},
                },
            )
        ).json()
        described = await stack.client.get_schedule_handle(schedule_id).describe()
        bad_cron = await api.patch(f"/api/v1/schedules/{schedule_id}", json={"cron": "every day"})
        bad_zone = await api.post(
            f"/api/v1/workflows/{wf['id']}/schedules",
            json={"cron": "* * * * *", "timezone": "Mars/Olympus"},
        )
        deleted = await api.delete(f"/api/v1/schedules/{schedule_id}")
        gone = await api.get(f"/api/v1/schedules/{schedule_id}")
    assert sched["overlapPolicy"] == "skip" and sched["paused"] is False
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 9, 30)
    assert [s["id"] for s in listed["schedules"]] == [schedule_id]
    assert body["status"] == "completed" and body["scheduleId"] == schedule_id
    assert writes == [1, 1]
    assert step(body, "tick")["output"]["body"]["query"] == {"who": "cron"}
    assert paused["paused"] is True and paused["nextRunTimes"] == []
    assert resumed["paused"] is False and resumed["cron"] == "0 12 * * *"
    noon = datetime.fromisoformat(resumed["nextRunTimes"][0]).astimezone(
        ZoneInfo("America/New_York")
    )
    assert (noon.hour, noon.minute) == (12, 0)
    assert resumed["overlapPolicy"] == "cancel_previous" and resumed["input"] == {"who": "patched"}
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.CANCEL_OTHER
    assert described.schedule.spec.time_zone_name == "America/New_York"
    assert bad_cron.status_code == 422 and bad_zone.status_code == 422
    assert deleted.status_code == 200 and gone.status_code == 404


async def test_overlap_skip_and_new_versions_reach_the_schedule(
    stack: Stack, steps_target: StepTarget
) -> None:
    t = steps_target
    _user, key = await new_user(stack)
    _other, other_key = await new_user(stack)
    async with stack.api(key) as api:
        wf = await create_workflow(api, [http_step("hold", t.url("/hold/sched"))])
        sched = (
            await api.post(f"/api/v1/workflows/{wf['id']}/schedules", json={"cron": "0 0 1 1 *"})
        ).json()
        handle = stack.client.get_schedule_handle(sched["id"])
        await api.post(f"/api/v1/schedules/{sched['id']}/trigger")

        async def held() -> bool:
            return t.held["sched"] == 1

        await wait_for(held)
        await api.post(f"/api/v1/schedules/{sched['id']}/trigger")

        async def skipped() -> bool:
            return (await handle.describe()).info.num_actions_skipped_overlap == 1

        await wait_for(skipped)
        first = (await api.get(f"/api/v1/schedules/{sched['id']}")).json()["runningExecutions"]
        t.release("sched")
        first_body = await finished(api, first[0])
        await api.put(
            f"/api/v1/workflows/{wf['id']}",
            json={"definition": {"steps": [http_step("v2", t.url("/echo/v2"))]}},
        )

        async def idle() -> bool:  # the schedule learns of the run's end asynchronously
            got = (await api.get(f"/api/v1/schedules/{sched['id']}")).json()
            return not got["runningExecutions"]

        await wait_for(idle)
        await api.post(f"/api/v1/schedules/{sched['id']}/trigger")

        async def second_run() -> str | None:
            info = (await handle.describe()).info
            if info.num_actions < 2:
                return None
            action = info.recent_actions[-1].action
            return getattr(action, "workflow_id", None)

        # (Runs started within the same second share an id: Temporal appends the time.)
        body = await finished(api, await wait_for(second_run))
        assert body["version"] == 2, body
    async with stack.api(other_key) as other:
        assert (await other.get(f"/api/v1/schedules/{sched['id']}")).status_code == 404
        assert (await other.delete(f"/api/v1/schedules/{sched['id']}")).status_code == 404
    assert t.held["sched"] == 1
    assert first_body["version"] == 1 and body["version"] == 2 and t.hits["v2"] == 1
    await handle.delete()
