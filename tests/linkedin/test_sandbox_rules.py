"""The sandbox's answers to campaigns and Unipile's webhook payloads, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.campaigns import sandbox_answers
from connectors.linkedin import AlreadyConnectedError
from connectors.linkedin_sandbox import answer_jitter, campaign_rules, perform
from engine.services.linkedin_events import parse_unipile
from store.campaigns import LinkedInEnrollment
from store.enrollment_repo import Awaiting

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_rules_read_the_public_identifier() -> None:
    rules = campaign_rules("sandbox-accepts-2d-replies-2nd-4h-ada")
    assert rules.accepts_after == timedelta(days=2)
    assert (rules.replies_after, rules.reply_to) == (timedelta(hours=4), 2)
    assert campaign_rules("sandbox-accepts-bob").accepts_after == timedelta(hours=1)
    assert campaign_rules("sandbox-replies-30m").replies_after == timedelta(minutes=30)
    assert campaign_rules("sandbox-connected-cy").connected is True
    assert campaign_rules("ada-lovelace") == campaign_rules("sandbox-limit-x")  # no answers
    for slug in ("sandbox-accepts-x", "other"):
        assert timedelta(minutes=1) <= answer_jitter(slug, "accepted") < timedelta(minutes=10)
    with pytest.raises(AlreadyConnectedError):
        perform("sendConnectionRequest", "https://www.linkedin.com/in/sandbox-connected-cy")
    assert perform("viewProfile", "https://www.linkedin.com/in/sandbox-connected-cy").summary


def _row(slug: str, **values: object) -> LinkedInEnrollment:
    return LinkedInEnrollment(
        id=f"enr_{slug}",
        campaign_id="cmp_x",
        user_id="u",
        account_id="lia_x",
        profile_url=f"https://www.linkedin.com/in/{slug}",
        profile_slug=slug,
        **values,
    )


def test_the_poller_reports_what_is_due_and_when_the_next_answer_is() -> None:
    accepts = _row("sandbox-accepts-2d-a", invited_at=T0)
    replies = _row("sandbox-replies-2nd-1h-b", invited_at=T0, accepted_at=T0, messages_sent=2)
    silent = _row("nobody", invited_at=T0)
    items = [
        Awaiting(accepts),
        Awaiting(replies, [T0 + timedelta(hours=1), T0 + timedelta(days=3)]),
        Awaiting(silent),
    ]
    events, upcoming = sandbox_answers(items, T0 + timedelta(days=1))
    assert events == []
    assert upcoming == T0 + timedelta(days=2) + answer_jitter(accepts.profile_slug, "accepted")
    events, _upcoming = sandbox_answers(items, T0 + timedelta(days=4))
    assert [(e.kind, e.profile_slug) for e in events] == [
        ("accepted", "sandbox-accepts-2d-a"),
        ("replied", "sandbox-replies-2nd-1h-b"),
    ]
    assert events[0].id == "sandbox:enr_sandbox-accepts-2d-a:accepted"  # stable: once


def test_unipile_payloads() -> None:
    assert parse_unipile({"event": "message_read", "account_id": "acc"}) is None
    errored = parse_unipile(
        {"id": "evt_1", "type": "account.status.errored", "account_id": "acc", "payload": {}}
    )
    assert errored is not None and errored.kind == "account_status"
    assert errored.status == "restricted"
    assert errored.id == "unipile:status:acc:account.status.errored:evt_1"
    ok = parse_unipile({"AccountStatus": {"account_id": "acc", "message": "OK"}})
    assert ok is not None and ok.status == "running"
    relation = parse_unipile(
        {"event": "new_relation", "account_id": "acc", "user_public_identifier": "Ada-L"}
    )
    assert relation is not None and relation.profile_slug == "ada-l"
    assert relation.id == "unipile:relation:acc:ada-l"
