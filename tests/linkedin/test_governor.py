"""The governor under skipped time: caps over days and weeks, working hours, delays,
limit and challenge pauses, cancellation, independent accounts, bounded history."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.service import RPCError

from engine.models.linkedin import LinkedInSettings, WorkingHours, governor_id
from engine.workflows.linkedin_schedule import DAY, WEEK
from tests.conftest import wait_for
from tests.linkedin.skipping import Rig, gaps
from tests.plain import plain

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
SLACK = timedelta(seconds=5)  # provider calls are recorded a moment after their grant


def paced(**kw: object) -> LinkedInSettings:
    values: dict[str, object] = {
        "min_delay_seconds": 10,
        "max_delay_seconds": 20,
        "working_hours": None,
    }
    values.update(kw)
    return LinkedInSettings.model_validate(values)


def within(times: list[datetime], t: datetime, window: timedelta) -> int:
    return sum(1 for g in times if t - window + SLACK < g <= t)


async def test_caps_hold_across_days_and_weeks(rig: Rig) -> None:
    await rig.governor(
        "caps",
        paced(
            daily_limits={"sendConnectionRequest": 3},
            weekly_limits={"sendConnectionRequest": 8},
            min_delay_seconds=60,
            max_delay_seconds=120,
        ),
    )
    handles = [await rig.action("caps", f"caps-{i}") for i in range(11)]
    assert await rig.drive(["caps"], handles) == ["completed"] * 11
    times = rig.provider.times()
    for t in times:
        assert within(times, t, DAY) <= 3
        assert within(times, t, WEEK) <= 8
    assert times[3] >= times[0] + DAY - SLACK  # the 4th waited for the first to leave the day
    assert times[8] >= times[0] + WEEK - SLACK  # the 9th waited for the first to leave the week
    assert times[-1] - times[0] < WEEK + DAY  # and then it went on without stalling


async def test_nothing_runs_outside_working_hours(rig: Rig) -> None:
    tz = ZoneInfo("America/New_York")
    hours = WorkingHours(
        start="09:00", end="09:05", days=[1, 2, 3, 4, 5], timezone="America/New_York"
    )
    await rig.governor(
        "hours", paced(working_hours=hours, min_delay_seconds=60, max_delay_seconds=90)
    )
    handles = [await rig.action("hours", f"hours-{i}") for i in range(8)]
    assert await rig.drive(["hours"], handles) == ["completed"] * 8
    local = [t.astimezone(tz) for t in rig.provider.times()]
    for moment in local:
        assert moment.isoweekday() <= 5, moment
        assert time(9, 0) <= moment.time() < time(9, 5, 5), moment
    assert len({m.date() for m in local}) >= 2  # a 5-minute window cannot hold them all


async def test_delays_fall_inside_the_configured_range(rig: Rig) -> None:
    await rig.governor("delays", paced(min_delay_seconds=100, max_delay_seconds=200))
    handles = [await rig.action("delays", f"delay-{i}") for i in range(6)]
    assert await rig.drive(["delays"], handles) == ["completed"] * 6
    for gap in gaps(rig.provider.times()):
        assert timedelta(seconds=100) <= gap <= timedelta(seconds=200) + SLACK, gap
    reported = [e.events[0].data["delay"] for e in rig.provider.events]
    assert sorted(reported)[0] == 0  # the first action had nothing to wait for
    assert all(100_000 <= d <= 200_000 for d in sorted(reported)[1:]), reported
    assert len(set(reported)) > 2  # randomized, not a fixed pause


async def test_a_limit_pauses_the_account(rig: Rig) -> None:
    rig.provider.plans = {"limited": ["limit", "completed"]}
    first_run = await rig.governor("limit", paced(), history_limit=60)  # pause carried over
    first = await rig.action("limit", "limited")
    await wait_for(lambda: _called(rig, "limited"))
    others = [await rig.action("limit", f"after-{i}") for i in range(2)]
    outcomes = await rig.drive(["limit"], [first, *others])
    assert outcomes == ["completed"] * 3
    calls = sorted(rig.provider.calls, key=lambda c: c.at)
    assert (calls[0].slug, calls[0].attempt) == ("limited", 1)
    resumed = calls[0].at + timedelta(hours=1) - SLACK  # no Retry-After: one hour first
    assert all(c.at >= resumed for c in calls[1:])
    assert (calls[1].slug, calls[1].attempt) == ("limited", 2)  # retried in its place
    view = await rig.view("limit")
    assert view.totals["limit"] == 1 and view.totals["completed"] == 3
    assert view.runs >= 2  # it continued as new while paused, and kept the pause
    if os.environ.get("TASKYARD_RECORD_HISTORIES"):
        history = await rig.client.get_workflow_handle(
            governor_id("limit"), run_id=first_run
        ).fetch_history()
        history = await plain(history, rig.client)
        (HISTORIES / "linkedin_governor_continued_v1.json").write_text(history.to_json())


async def test_a_challenge_pauses_the_account_for_a_day(rig: Rig) -> None:
    rig.provider.plans = {"checked": ["challenge", "completed"]}
    await rig.governor("challenge", paced())
    checked = await rig.action("challenge", "checked")
    await wait_for(lambda: _called(rig, "checked"))
    handles = [checked, await rig.action("challenge", "next")]
    assert await rig.drive(["challenge"], handles) == ["completed"] * 2
    calls = sorted(rig.provider.calls, key=lambda c: c.at)
    assert (calls[0].slug, calls[0].attempt) == ("checked", 1)
    assert all(c.at >= calls[0].at + DAY - SLACK for c in calls[1:])


async def test_a_cancelled_waiting_action_never_runs(rig: Rig) -> None:
    await rig.governor("cancel", paced(min_delay_seconds=3600, max_delay_seconds=3600))
    first = await rig.action("cancel", "first")
    await wait_for(lambda: _called(rig, "first"))
    waiting = await rig.action("cancel", "waiting")
    last = await rig.action("cancel", "last")

    async def told() -> bool:
        return "expected to run around" in (await rig.state(waiting)).message

    await wait_for(told)
    assert (await rig.state(waiting)).status == "pending"
    await waiting.cancel()
    assert await rig.drive(["cancel"], [first, waiting, last]) == [
        "completed",
        "cancelled",
        "completed",
    ]
    slugs = [c.slug for c in rig.provider.calls]
    assert "waiting" not in slugs
    times = rig.provider.times()
    assert times[1] - times[0] <= timedelta(hours=1) + SLACK  # its slot went to the next one


async def test_cancelling_a_running_action_frees_its_slot(rig: Rig) -> None:
    rig.provider.block = {"stuck"}
    await rig.governor("running", paced())
    stuck = await rig.action("running", "stuck")
    after = await rig.action("running", "after")
    await asyncio.wait_for(rig.provider.blocked.wait(), 20)
    assert (await rig.state(stuck)).status == "running"
    await stuck.cancel()
    assert await rig.drive(["running"], [stuck, after]) == ["cancelled", "completed"]
    assert (await rig.view("running")).totals.get("cancelled") == 1


async def test_two_accounts_do_not_block_each_other(rig: Rig) -> None:
    await rig.governor("blocked", paced(daily_limits={"sendMessage": 0}))
    await rig.governor("free", paced())
    stuck = await rig.action("blocked", "nobody", action_type="sendMessage")
    handles = [await rig.action("free", f"free-{i}", action_type="sendMessage") for i in range(3)]
    assert await rig.drive(["blocked", "free"], handles) == ["completed"] * 3

    async def switched_off() -> bool:
        return "switched off" in (await rig.state(stuck)).message

    await wait_for(switched_off)
    assert (await rig.state(stuck)).status == "pending"
    await stuck.cancel()
    assert await rig.drive(["blocked"], [stuck]) == ["cancelled"]


async def test_five_hundred_queued_actions_keep_history_bounded(rig: Rig) -> None:
    limit = 1000
    lots = {"sendConnectionRequest": 10_000}
    await rig.governor(
        "bulk",
        paced(daily_limits=lots, weekly_limits=lots, min_delay_seconds=0, max_delay_seconds=0),
        history_limit=limit,
    )
    gate = asyncio.Semaphore(20)

    async def start(i: int) -> None:
        async with gate:
            await rig.action("bulk", f"bulk-{i}")

    await asyncio.gather(*(start(i) for i in range(500)))

    async def all_done() -> bool:
        try:
            return (await rig.view("bulk")).totals.get("completed", 0) == 500
        except RPCError:  # a query can time out while the worker works through the burst
            return False

    await wait_for(all_done, timeout=300, interval=1.0)
    await rig.settle(["bulk"])  # the query can see the last task before the server records it
    lengths = await rig.run_lengths("bulk")
    assert len(lengths) >= 5, lengths  # it continued as new, repeatedly
    assert max(lengths) <= limit + 200, lengths
    view = await rig.view("bulk")
    assert view.totals["completed"] == 500 and view.queued == 0


async def _called(rig: Rig, slug: str) -> bool:
    return any(c.slug == slug for c in rig.provider.calls)
