"""The LinkedIn governor's rules, as pure functions: caps, working hours, the next slot.

Deterministic and free of I/O, so the governor workflow can call them (import
this module with ``workflow.unsafe.imports_passed_through()``: the sandbox
proxies ``zoneinfo`` objects, which ``datetime.astimezone`` refuses) and tests
can check them directly.

Caps are rolling windows: at most ``daily`` grants of a type in any 24 hours
and ``weekly`` in any 7 days. Working hours are ``[start, end)`` on the listed
ISO weekdays (1 = Monday) in the account's time zone; ``None`` means any time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

ACTION_TYPES: tuple[str, ...] = (
    "sendConnectionRequest",
    "sendMessage",
    "viewProfile",
    "followProfile",
    "likePost",
    "withdrawConnectionRequest",
)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
DEFAULT_DAILY: dict[str, int] = {
    "sendConnectionRequest": 20,
    "sendMessage": 50,
    "viewProfile": 80,
    "followProfile": 30,
    "likePost": 50,
    "withdrawConnectionRequest": 20,
}
DEFAULT_WEEKLY: dict[str, int] = {
    "sendConnectionRequest": 100,
    "sendMessage": 250,
    "viewProfile": 400,
    "followProfile": 150,
    "likePost": 250,
    "withdrawConnectionRequest": 100,
}
MAX_LIMIT = 10_000


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _clock(value: str) -> time:
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time like '09:00'") from exc


class WorkingHours(_Camel):
    start: str = "09:00"
    end: str = "18:00"
    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 1 or d > 7 for d in value):
            raise ValueError("days must list ISO weekdays 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _window(self) -> WorkingHours:
        if _clock(self.start) >= _clock(self.end):
            raise ValueError("workingHours.start must be before workingHours.end")
        return self


def _limits(value: dict[str, int], defaults: Mapping[str, int]) -> dict[str, int]:
    unknown = [k for k in value if k not in ACTION_TYPES]
    if unknown:
        raise ValueError(f"unknown action types: {', '.join(unknown)}")
    if any(n < 0 or n > MAX_LIMIT for n in value.values()):
        raise ValueError(f"limits must be between 0 and {MAX_LIMIT}")
    return {**defaults, **value}


class LinkedInSettings(_Camel):
    """How the governor paces one account (``GET/PUT /api/v2/linkedin/settings``)."""

    daily_limits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_DAILY))
    weekly_limits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_WEEKLY))
    min_delay_seconds: float = Field(default=45.0, ge=0, le=86_400)
    max_delay_seconds: float = Field(default=150.0, ge=0, le=86_400)
    working_hours: WorkingHours | None = Field(default_factory=WorkingHours)

    @field_validator("daily_limits")
    @classmethod
    def _daily(cls, value: dict[str, int]) -> dict[str, int]:
        return _limits(value, DEFAULT_DAILY)

    @field_validator("weekly_limits")
    @classmethod
    def _weekly(cls, value: dict[str, int]) -> dict[str, int]:
        return _limits(value, DEFAULT_WEEKLY)

    @model_validator(mode="after")
    def _delays(self) -> LinkedInSettings:
        if self.min_delay_seconds > self.max_delay_seconds:
            raise ValueError("minDelaySeconds must not exceed maxDelaySeconds")
        return self

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ---- time rules ---------------------------------------------------------------------------


def next_open(at: datetime, hours: WorkingHours | None) -> datetime:
    """The earliest instant ≥ ``at`` inside the working window."""
    if hours is None:
        return at
    tz = zone(hours.timezone)
    start, end = _clock(hours.start), _clock(hours.end)
    local_day: date = at.astimezone(tz).date()
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.isoweekday() not in hours.days:
            continue
        opens = datetime.combine(day, start, tzinfo=tz).astimezone(UTC)
        closes = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
        if at < closes:
            return max(at, opens)
    raise AssertionError("a week always has an open day")  # days is never empty


def is_open(at: datetime, hours: WorkingHours | None) -> bool:
    return next_open(at, hours) == at


def cap_ready(at: datetime, grants: Sequence[datetime], daily: int, weekly: int) -> datetime | None:
    """The earliest instant ≥ ``at`` when one more grant keeps both rolling caps; None: never.

    ``grants`` is sorted. A grant at ``g`` stops counting at ``g + window``.
    """
    if daily <= 0 or weekly <= 0:
        return None
    ready = at
    for cap, window in ((daily, DAY), (weekly, WEEK)):
        inside = len(grants) - bisect.bisect_right(grants, ready - window)
        if inside >= cap:
            # the grant that must drop out is the cap-th newest
            ready = max(ready, grants[len(grants) - cap] + window)
    return ready


def earliest(
    at: datetime,
    *,
    grants: Sequence[datetime],
    daily: int,
    weekly: int,
    hours: WorkingHours | None,
) -> datetime | None:
    """The earliest instant ≥ ``at`` that satisfies the caps and the working hours."""
    current = at
    for _ in range(16):  # each round only moves forward; two rounds settle in practice
        ready = cap_ready(current, grants, daily, weekly)
        if ready is None:
            return None
        opened = next_open(ready, hours)
        if opened == current:
            return current
        current = opened
    return current


def usage(grants: Iterable[datetime], now: datetime) -> tuple[int, int]:
    """Grants in the last 24 hours and in the last 7 days."""
    day = week = 0
    for g in grants:
        if g > now - WEEK:
            week += 1
            if g > now - DAY:
                day += 1
    return day, week


def describe_wait(at: datetime, hours: WorkingHours | None) -> str:
    """``2024-01-20T10:02:00Z`` plus the local time when the account has a time zone."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if hours is None or hours.timezone == "UTC":
        return stamp
    local = at.astimezone(zone(hours.timezone)).strftime("%Y-%m-%d %H:%M")
    return f"{stamp} ({local} {hours.timezone})"
