"""The pure rules of fair share: fairness keys, priority classes, cron gaps, GCRA budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.models import fairness
from engine.models.jobs import JOB_TYPES
from engine.models.quotas import month_counter
from engine.models.rate_limits import Budget, GovernorState, governor_id, recovered, reserve
from engine.services.cron_interval import smallest_interval_seconds


def test_fairness_keys_name_the_tenant_and_fit_temporal() -> None:
    assert fairness.fairness_key("u1") == "u1"
    assert fairness.fairness_key("u1", app_id="app_1", end_user_id="bob") == "app_1:bob"
    long_a = fairness.fairness_key("u1", app_id="app_1", end_user_id="x" * 200 + "a")
    long_b = fairness.fairness_key("u1", app_id="app_1", end_user_id="x" * 200 + "b")
    assert len(long_a.encode()) <= 64 and len(long_b.encode()) <= 64
    assert long_a != long_b and long_a.startswith("app_1:xx")
    wide = fairness.fairness_key("é" * 40)  # 80 bytes: cut on a character boundary
    assert len(wide.encode()) <= 64


def test_requested_priority_moves_one_class_never_into_system() -> None:
    assert fairness.priority_key(fairness.NORMAL) == 3
    assert fairness.priority_key(fairness.NORMAL, "high") == 2
    assert fairness.priority_key(fairness.INTERACTIVE, "high") == 2  # not the system class
    assert fairness.priority_key(fairness.BULK, "low") == 5
    assert fairness.priority_key(fairness.BULK, "high") == 3
    assert fairness.priority_key(fairness.SYSTEM, "low") == 1
    p = fairness.job_priority("u1", fairness.BULK, weight=5000.0)
    assert (p.priority_key, p.fairness_key, p.fairness_weight) == (4, "u1", 1000.0)
    off = fairness.job_priority("u1", fairness.BULK, weight=2.0, fairness=False)
    assert (off.priority_key, off.fairness_key, off.fairness_weight) == (4, None, None)


@pytest.mark.parametrize(
    ("cron", "seconds"),
    [
        ("* * * * *", 60),
        ("*/5 * * * *", 300),
        ("0,30 * * * *", 1800),
        ("0 * * * *", 3600),
        ("0 9 * * 1-5", 86400),
        ("0 0,23 * * *", 3600),  # 23:00 → 00:00 the next day
        ("58 * * * *", 3600),
        ("0-10/5 */2 * * *", 300),
        ("@hourly", 3600),
        ("@daily", 86400),
    ],
)
def test_smallest_interval_of_a_cron(cron: str, seconds: int) -> None:
    assert smallest_interval_seconds(cron) == seconds


@pytest.mark.parametrize("cron", ["61 * * * *", "a b c d e", "* * *", "*/0 * * * *"])
def test_unreadable_crons_are_refused(cron: str) -> None:
    with pytest.raises(ValueError):
        smallest_interval_seconds(cron)


def test_gcra_spaces_requests_and_refuses_without_spending() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    state = GovernorState(budget=Budget(name="hunter", rate=10, per_seconds=1))
    first = reserve(state, t0, 10, 60)
    assert first.granted and first.start_at == t0 and first.interval_seconds == 0.1
    second = reserve(state, t0, 10, 60)  # another worker asks at the same moment
    assert second.granted and second.start_at == t0 + timedelta(seconds=1)
    refused = reserve(state, t0, 10, 0.5)  # would have to wait 2 s
    assert not refused.granted and refused.start_at == t0 + timedelta(seconds=2)
    assert state.tat == t0 + timedelta(seconds=2) and state.refused == 10
    assert not recovered(state, t0) and recovered(state, t0 + timedelta(seconds=2))


def test_a_daily_cap_allows_half_at_once_and_never_the_cap_twice_a_day() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    state = GovernorState(budget=Budget(name="gmail-send", rate=10, per_seconds=86400, burst=10))
    sent = [reserve(state, t0, 1, 0) for _ in range(12)]
    assert [r.granted for r in sent] == [True] * 10 + [False] * 2
    # Then one per 2.4 h: asking every 6 minutes for the rest of the day gets 9 more, so no
    # 24 hours see more than 2 × burst (the setting's cap: burst is half of it).
    rest = [reserve(state, t0 + timedelta(minutes=m), 1, 0).granted for m in range(6, 24 * 60, 6)]
    assert sum(rest) == 9


def test_month_counter_turns_with_the_calendar() -> None:
    name, left = month_counter(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    assert name == "operator_enrichment:2026-12" and left == 3600


def test_governors_belong_to_one_deployment_and_never_name_the_secret() -> None:
    # Two deployments (task-queue prefixes) on one namespace each serve their own governor:
    # one left running by the other would never be served by this one's workers.
    ours, theirs = governor_id("taskyard", "hunter", "key:k1"), governor_id("b", "hunter", "key:k1")
    assert ours != theirs and ours.startswith("taskyard-rate-hunter-")
    assert "k1" not in ours
    assert ours != governor_id("taskyard", "hunter", "key:k2")


def test_every_job_type_has_a_priority_class() -> None:
    assert set(fairness.DEFAULT_CLASS) == set(JOB_TYPES)
    assert fairness.DEFAULT_CLASS["campaign_enrollment"] == fairness.BULK
    assert fairness.DEFAULT_CLASS["data_enrichment"] == fairness.BULK
