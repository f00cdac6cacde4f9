"""The smallest gap between two runs of a cron schedule, from its minute and hour fields.

The schedules quota refuses crons that fire more often than the operator allows.
The gap is computed from the expression itself, before anything is created: every
time of day the minute and hour fields allow, sorted, and the smallest step between
neighbours (midnight wrapping round to the first time of the next day). Day, month
and weekday fields can only make runs rarer, so this is a lower bound — the safe
side for a limit. (Temporal's ``next_action_times`` lists only the next few runs and
would miss a short gap later in the day.)
"""

from __future__ import annotations

from itertools import pairwise

DAY_MINUTES = 24 * 60
NAMED_SECONDS: dict[str, int] = {
    "@hourly": 3600,
    "@daily": 86400,
    "@midnight": 86400,
    "@weekly": 7 * 86400,
    "@monthly": 28 * 86400,
    "@yearly": 365 * 86400,
    "@annually": 365 * 86400,
}


def field_values(text: str, low: int, high: int) -> set[int]:
    """The numbers one cron field allows (``*``, ``a``, ``a-b``, ``*/n``, ``a-b/n``, lists)."""
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {text!r}")
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = int(first), int(last)
        else:
            start = int(body)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ValueError(f"{text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def smallest_interval_seconds(cron: str) -> int:
    """Lower bound of the time between two runs (ValueError for what cannot be read)."""
    cron = " ".join(cron.split())
    if cron in NAMED_SECONDS:
        return NAMED_SECONDS[cron]
    fields = cron.split(" ")
    if len(fields) != 5:
        raise ValueError(f"{cron!r} is not a five-field cron expression")
    minutes = field_values(fields[0], 0, 59)
    hours = field_values(fields[1], 0, 23)
    times = sorted(h * 60 + m for h in hours for m in minutes)
    gaps = [b - a for a, b in pairwise(times)]
    gaps.append(times[0] + DAY_MINUTES - times[-1])
    return min(gaps) * 60
