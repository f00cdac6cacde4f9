"""Campaign sequences under skipped time: the real enrollment, governor and poller workflows,
the sandbox's answers (its members' public identifiers say when they accept and reply)."""

from __future__ import annotations

from datetime import timedelta

from store import lead_repo
from tests.linkedin.campaign_rig import CampaignRig

DAY = timedelta(days=1)
SLACK = timedelta(minutes=5)

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
