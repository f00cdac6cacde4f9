"""Campaign sequences under skipped time: the real enrollment, governor and poller workflows,
the sandbox's answers (its members' public identifiers say when they accept and reply)."""

from __future__ import annotations

from datetime import timedelta

from engine.models.campaigns import poller_id
from store import lead_repo
from tests.linkedin.campaign_rig import CampaignRig
from tests.linkedin.helpers import record_history

DAY = timedelta(days=1)
SLACK = timedelta(minutes=15)  # members answer up to ten minutes after the stated delay

FOLLOW_UP = [
    {"type": "sendConnectionRequest", "note": "Hi {{lead.firstName | there}}"},
    {"type": "waitForAcceptance", "days": 14},
    {"type": "sendMessage", "message": "Thanks for connecting, {{firstName | friend}}!"},
    {"type": "wait", "days": 3},
    {"type": "stopIf", "condition": "replied"},
    {"type": "sendMessage", "message": "Following up, {{firstName}}"},
    {"type": "wait", "days": 3},
    {"type": "sendMessage", "message": "A last note"},
]


async def test_a_full_sequence_stops_on_the_reply(campaigns: CampaignRig) -> None:
    # accepts two days after the invitation, replies four hours after the second message
    slug = "sandbox-accepts-2d-replies-2nd-4h-ada"
    lead_id = await campaigns.lead(slug)
    start = await campaigns.now()
    campaign_id, [handle] = await campaigns.launch(FOLLOW_UP, lead_ids=[lead_id])
    assert await campaigns.drive([handle]) == ["completed"]
    calls = sorted(campaigns.provider.calls, key=lambda c: c.at)
    assert [c.action_type for c in calls] == [
        "sendConnectionRequest",
        "sendMessage",
        "sendMessage",
    ]
    invited, first, follow_up = (c.at for c in calls)
    assert invited - start < SLACK
    assert 2 * DAY <= first - invited < 2 * DAY + SLACK  # as soon as it was accepted
    assert 3 * DAY <= follow_up - first < 3 * DAY + SLACK  # day 5: no reply yet
    state = await campaigns.state(handle)
    assert state.status == "completed" and state.message == "Stopped: the lead replied"
    [row] = await campaigns.rows(campaign_id)
    assert row.status == "replied" and row.messages_sent == 2
    assert row.accepted_at is not None and row.replied_at is not None
    lead = await lead_repo.get_lead(campaigns.db, campaigns.user_id, lead_id)
    assert lead.status == "responded"
    now = await campaigns.now()
    await campaigns.env.sleep(7 * DAY)  # nothing more happens, ever
    assert len(campaigns.provider.calls) == 3 and now < await campaigns.now()
    await record_history(campaigns.client, handle.id, "campaign_enrollment_replied_v1")
    await record_history(campaigns.client, poller_id(campaigns.account_id), "linkedin_poller_v1")


async def test_an_invitation_not_accepted_takes_the_timeout_branch(
    campaigns: CampaignRig,
) -> None:
    steps = [
        {"type": "sendConnectionRequest"},
        {"type": "waitForAcceptance", "days": 3, "onTimeout": "withdraw"},
        {"type": "sendMessage", "message": "Thanks for connecting!"},
        {"type": "stopIf", "condition": "connected"},
        {"type": "withdrawConnectionRequest", "name": "withdraw"},
        {"type": "viewProfile"},
    ]
    cid, handles = await campaigns.launch(steps, slugs=["sandbox-accepts-1d-yes", "never-answers"])
    assert await campaigns.drive(handles) == ["completed", "completed"]
    calls: dict[str, list[tuple[str, object]]] = {}
    for c in sorted(campaigns.provider.calls, key=lambda c: c.at):
        calls.setdefault(c.slug, []).append((c.action_type, c.at))
    assert [a for a, _ in calls["sandbox-accepts-1d-yes"]] == [
        "sendConnectionRequest",
        "sendMessage",
    ]
    assert [a for a, _ in calls["never-answers"]] == [
        "sendConnectionRequest",
        "withdrawConnectionRequest",
        "viewProfile",
    ]
    invited, withdrawn = calls["never-answers"][0][1], calls["never-answers"][1][1]
    assert 3 * DAY <= withdrawn - invited < 3 * DAY + SLACK  # type: ignore[operator]
    rows = {r.profile_slug: r for r in await campaigns.rows(cid)}
    assert rows["sandbox-accepts-1d-yes"].status == "stopped"
    assert rows["never-answers"].status == "completed"
    await record_history(
        campaigns.client, rows["never-answers"].id, "campaign_enrollment_timeout_v1"
    )
    counts = await campaigns.service.counts(cid)
    assert counts["steps"][1] == {"accepted": 1, "timeout": 1}
    assert counts["steps"][3] == {"true": 1}
    assert counts["invited"] == 2 and counts["accepted"] == 1


async def test_pause_and_resume_across_working_hours(campaigns: CampaignRig) -> None:
    hours = {"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5], "timezone": "UTC"}
    await campaigns.account_settings(working_hours=hours)
    steps = [
        {"type": "viewProfile"},
        {"type": "wait", "days": 1},
        {"type": "followProfile"},
        {"type": "wait", "hours": 2},
        {"type": "viewProfile"},
    ]
    cid, [handle] = await campaigns.launch(steps, slugs=["worker-bee"])
    calls = campaigns.provider.calls
    while not calls:  # until the first view ran (the window may open days from now)
        await campaigns.drive([handle], until=await campaigns.now() + timedelta(hours=1))
    assert [c.action_type for c in calls] == ["viewProfile"]
    await campaigns.control(cid, [handle], "pause")
    paused_at = await campaigns.now()
    await campaigns.drive([handle], until=paused_at + 5 * DAY)
    assert len(calls) == 1  # nothing while paused, through several working days
    state = await campaigns.state(handle)
    assert state.message.startswith("Paused") and state.status == "running"
    # resume in the evening: the follow waits for the next morning's window
    now = await campaigns.now()
    evening = now.replace(hour=20, minute=0, second=0, microsecond=0)
    if evening <= now:
        evening += DAY
    await campaigns.drive([handle], until=evening)
    await campaigns.control(cid, [handle], "resume")
    resumed = await campaigns.now()
    assert await campaigns.drive([handle]) == ["completed"]
    follow = next(c for c in calls if c.action_type == "followProfile")
    assert follow.at > resumed and (follow.at - resumed) > timedelta(hours=12) - SLACK
    for c in calls:
        assert c.at.weekday() < 5 and 9 <= c.at.hour < 17, c
    await record_history(campaigns.client, handle.id, "campaign_enrollment_paused_v1")


async def test_repeated_and_late_events_change_nothing(campaigns: CampaignRig) -> None:
    from engine.models.campaigns import ProviderSignal

    steps = [
        {"type": "sendConnectionRequest"},
        {"type": "waitForAcceptance", "days": 7},
        {"type": "sendMessage", "message": "Hello"},
        {"type": "wait", "days": 7},
        {"type": "sendMessage", "message": "Again"},
    ]
    cid, [handle] = await campaigns.launch(steps, slugs=["echo-member"])
    start = await campaigns.now()
    await campaigns.drive([handle], until=start + DAY)
    for _ in range(3):  # the same acceptance, three times, and another one
        await handle.signal("provider_event", ProviderSignal(event_id="a1", kind="accepted"))
    await handle.signal("provider_event", ProviderSignal(event_id="a2", kind="accepted"))
    await campaigns.drive([handle], until=start + 2 * DAY)
    assert [c.action_type for c in campaigns.provider.calls].count("sendMessage") == 1
    for _ in range(2):
        await handle.signal("provider_event", ProviderSignal(event_id="r1", kind="replied"))
    assert await campaigns.drive([handle]) == ["completed"]
    assert [c.action_type for c in campaigns.provider.calls].count("sendMessage") == 1
    [row] = await campaigns.rows(cid)
    assert row.status == "replied" and row.messages_sent == 1
    view = await campaigns.view(handle)
    assert view.replied and view.accepted


async def test_long_waits_continue_as_new_and_keep_their_deadline(
    campaigns: CampaignRig,
) -> None:
    limit = 40
    campaigns.configure(campaign_history_limit=limit)
    steps = [
        {"type": "sendConnectionRequest"},
        {"type": "waitForAcceptance", "days": 20},
        {"type": "sendMessage", "message": "Thanks!"},
    ]
    _cid, [handle] = await campaigns.launch(steps, slugs=["sandbox-accepts-9d-slow"])
    assert await campaigns.drive([handle]) == ["completed"]
    invited, message = sorted(c.at for c in campaigns.provider.calls)
    assert 9 * DAY <= message - invited < 9 * DAY + SLACK
    view = await campaigns.view(handle)
    assert view.runs >= 3, view  # it continued as new while waiting, and kept the deadline
    lengths = await campaigns.run_lengths(handle.id)
    assert len(lengths) == view.runs and max(lengths) <= limit + 30, lengths


async def test_an_existing_connection_skips_the_wait(campaigns: CampaignRig) -> None:
    campaigns.provider.plans = {"old-friend": ["connected"]}
    steps = [
        {"type": "sendConnectionRequest", "note": "Hi"},
        {"type": "waitForAcceptance", "days": 7},
        {"type": "stopIf", "condition": "!alreadyConnected"},
        {"type": "sendMessage", "message": "Good to see you again"},
    ]
    cid, [handle] = await campaigns.launch(steps, slugs=["old-friend"])
    assert await campaigns.drive([handle]) == ["completed"]
    invite, message = sorted(campaigns.provider.calls, key=lambda c: c.at)
    assert (invite.action_type, message.action_type) == ("sendConnectionRequest", "sendMessage")
    assert message.at - invite.at < SLACK  # no waiting for an acceptance
    [row] = await campaigns.rows(cid)
    assert row.status == "completed" and row.invited_at is None
    counts = await campaigns.service.counts(cid)
    assert counts["steps"][1] == {"accepted": 1} and counts["steps"][2] == {"false": 1}
