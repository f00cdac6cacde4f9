"""The governor's rules as plain functions: rolling caps, working hours across DST, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from engine.models.linkedin import LinkedInSettings, WorkingHours
from engine.workflows.linkedin_schedule import DAY, WEEK, cap_ready, earliest, next_open, usage

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def test_rolling_daily_and_weekly_caps() -> None:
    grants = [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert cap_ready(T0 + timedelta(hours=3), grants, daily=3, weekly=10) == T0 + DAY
    assert cap_ready(T0 + timedelta(hours=3), grants, daily=4, weekly=10) == T0 + timedelta(hours=3)
    week = [T0 + i * DAY for i in range(5)]
    assert cap_ready(T0 + 5 * DAY, week, daily=3, weekly=5) == T0 + WEEK
    assert cap_ready(T0, [], daily=0, weekly=5) is None
    assert usage(week, T0 + 5 * DAY) == (0, 5)


def test_working_hours_skip_nights_and_weekends() -> None:
    hours = WorkingHours(start="09:00", end="17:00", days=[1, 2, 3, 4, 5], timezone="UTC")
    assert next_open(T0, hours) == T0
    assert next_open(T0.replace(hour=18), hours) == T0.replace(hour=9) + DAY
    friday_evening = T0 + 4 * DAY + timedelta(hours=6)
    assert next_open(friday_evening, hours) == T0.replace(hour=9) + WEEK  # Monday 09:00
    assert next_open(T0, None) == T0


def test_working_hours_follow_the_local_clock_across_dst() -> None:
    hours = WorkingHours(
        start="09:00", end="10:00", days=[1, 2, 3, 4, 5, 6, 7], timezone="Europe/Paris"
    )
    before = next_open(datetime(2026, 3, 27, 12, 0, tzinfo=UTC), hours)  # CET (+1)
    after = next_open(datetime(2026, 3, 30, 12, 0, tzinfo=UTC), hours)  # CEST (+2)
    assert before == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 31, 7, 0, tzinfo=UTC)


def test_earliest_combines_caps_and_hours() -> None:
    hours = WorkingHours(start="09:00", end="17:00", days=[1, 2, 3, 4, 5], timezone="UTC")
    grants = [T0.replace(hour=16, minute=30)]
    # cap frees at 16:30 next day, inside hours
    assert (
        earliest(T0.replace(hour=16, minute=45), grants=grants, daily=1, weekly=5, hours=hours)
        == T0.replace(hour=16, minute=30) + DAY
    )
    late = [T0.replace(hour=16, minute=59)]
    got = earliest(
        T0.replace(hour=16, minute=59, second=30), grants=late, daily=1, weekly=5, hours=hours
    )
    assert got == late[0] + DAY  # 16:59 the next day is still open


def test_settings_fill_defaults_and_refuse_nonsense() -> None:
    s = LinkedInSettings.model_validate({"dailyLimits": {"sendMessage": 10}})
    assert s.daily_limits["sendMessage"] == 10 and s.daily_limits["sendConnectionRequest"] == 20
    assert s.weekly_limits["sendConnectionRequest"] == 100
    assert s.public()["workingHours"]["start"] == "09:00"
    bad: list[dict[str, object]] = [
        {"dailyLimits": {"poke": 3}},
        {"dailyLimits": {"sendMessage": -1}},
        {"minDelaySeconds": 100, "maxDelaySeconds": 10},
        {"workingHours": {"start": "18:00", "end": "09:00"}},
        {"workingHours": {"start": "9am", "end": "17:00"}},
        {"workingHours": {"days": [0, 8]}},
        {"workingHours": {"timezone": "Mars/Olympus"}},
        {"surprise": True},
    ]
    for values in bad:
        with pytest.raises(ValidationError):
            LinkedInSettings.model_validate(values)
    assert LinkedInSettings.model_validate({"workingHours": None}).working_hours is None
