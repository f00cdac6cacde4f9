"""The LinkedIn governor's rules, as pure functions: caps, working hours, the next slot.

Deterministic and free of I/O, so the governor workflow can call them (import
this module with ``workflow.unsafe.imports_passed_through()``: the sandbox
proxies ``zoneinfo`` objects, which ``datetime.astimezone`` refuses) and tests
can check them directly. The settings they read are ``engine.models.linkedin``'s.

Caps are rolling windows: at most ``daily`` grants of a type in any 24 hours
and ``weekly`` in any 7 days. Working hours are ``[start, end)`` on the listed
ISO weekdays (1 = Monday) in the account's time zone; ``None`` means any time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from engine.models.linkedin import WorkingHours, clock, zone

DAY = timedelta(days=1)
WEEK = timedelta(days=7)

# ---- time rules ---------------------------------------------------------------------------


def next_open(at: datetime, hours: WorkingHours | None) -> datetime:
    """The earliest instant ≥ ``at`` inside the working window."""
    if hours is None:
        return at
    tz = zone(hours.timezone)
    start, end = clock(hours.start), clock(hours.end)
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


def local_stamp(at: datetime, timezone: str) -> str:
    """``2026-11-24 09:40 Europe/Berlin``: a moment as the account's owner reads it."""
    return at.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M ") + timezone
