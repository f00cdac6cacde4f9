"""The Slack connector against a local Slack Web API speaking Slack's wire format."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from connectors import slack
from connectors.base import ActionContext
from connectors.errors import (
    AuthError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from tests.fakes.slack import VALID_TOKEN, FakeSlack


def ctx_for(fake: FakeSlack, token: str = VALID_TOKEN) -> ActionContext:
    return ActionContext(
        credentials={"bot_token": token, "app_id": "A0TEST"},
        base_urls={"slack": fake.base_url + "/api/"},
        timeout_seconds=5,
    )


async def post(fake: FakeSlack, text: str = "hello") -> slack.SendMessageOutput:
    return await slack.send_message(
        ctx_for(fake), slack.SendMessageInput(channel="C0GENERAL", text=text)
    )


async def test_send_message_posts_to_the_channel_with_the_bot_token(fake_slack: FakeSlack):
    out = await post(fake_slack, "Deploy finished")

    assert out.channel == "C0GENERAL"
    assert out.ts
    [call] = fake_slack.calls("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert call.json == {"channel": "C0GENERAL", "text": "Deploy finished"}
    assert fake_slack.messages[("C0GENERAL", out.ts)]["text"] == "Deploy finished"


async def test_send_message_with_blocks_in_a_thread(fake_slack: FakeSlack):
    parent = await post(fake_slack, "parent")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]

    out = await slack.send_message(
        ctx_for(fake_slack),
        slack.SendMessageInput(
            channel="C0GENERAL", text="fallback", blocks=blocks, thread_ts=parent.ts
        ),
    )

    assert out.thread_ts == parent.ts
    call = fake_slack.calls("chat.postMessage")[-1]
    assert call.json["blocks"] == blocks
    assert call.json["thread_ts"] == parent.ts


async def test_update_message_changes_the_text(fake_slack: FakeSlack):
    sent = await post(fake_slack, "draft")

    out = await slack.update_message(
        ctx_for(fake_slack),
        slack.UpdateMessageInput(channel="C0GENERAL", ts=sent.ts, text="final"),
    )

    assert (out.channel, out.ts, out.text) == ("C0GENERAL", sent.ts, "final")
    assert fake_slack.messages[("C0GENERAL", sent.ts)]["text"] == "final"


async def test_add_reaction_and_again_on_retry(fake_slack: FakeSlack):
    sent = await post(fake_slack)
    data = slack.AddReactionInput(channel="C0GENERAL", timestamp=sent.ts, name="thumbsup")

    first = await slack.add_reaction(ctx_for(fake_slack), data)
    again = await slack.add_reaction(ctx_for(fake_slack), data)

    assert first.already_reacted is False
    assert again.already_reacted is True
    assert fake_slack.reactions[("C0GENERAL", sent.ts)] == ["thumbsup"]
    call = fake_slack.calls("reactions.add")[0]
    assert {**call.query, **call.form} == {
        "channel": "C0GENERAL",
        "timestamp": sent.ts,
        "name": "thumbsup",
    }


async def test_connector_test_calls_auth_test(fake_slack: FakeSlack):
    info = await slack.CONNECTOR.test(ctx_for(fake_slack))  # type: ignore[misc]

    assert info["team_id"] == "T0TEST"
    assert info["bot_id"] == "B0BOT"
    assert len(fake_slack.calls("auth.test")) == 1


async def test_wrong_token_is_an_auth_error(fake_slack: FakeSlack):
    with pytest.raises(AuthError):
        await slack.send_message(
            ctx_for(fake_slack, token="xoxb-revoked"),
            slack.SendMessageInput(channel="C0GENERAL", text="hi"),
        )


async def test_missing_token_is_an_auth_error_without_a_request(fake_slack: FakeSlack):
    ctx = ActionContext(credentials={}, base_urls={"slack": fake_slack.base_url + "/api/"})
    with pytest.raises(AuthError):
        await slack.send_message(ctx, slack.SendMessageInput(channel="C0GENERAL", text="hi"))
    assert fake_slack.requests == []


@pytest.mark.parametrize(
    "code", ["invalid_auth", "not_authed", "token_revoked", "account_inactive"]
)
async def test_auth_error_codes(fake_slack: FakeSlack, code: str):
    fake_slack.fail_next("error", error=code)
    with pytest.raises(AuthError):
        await post(fake_slack)


async def test_rate_limit_surfaces_retry_after_and_is_not_retried(fake_slack: FakeSlack):
    fake_slack.fail_next("rate_limited", retry_after=17)

    with pytest.raises(RateLimitedError) as info:
        await post(fake_slack)

    assert info.value.retry_after == 17
    assert len(fake_slack.requests) == 1


async def test_ratelimited_code_with_http_200_is_rate_limited(fake_slack: FakeSlack):
    fake_slack.fail_next("error", error="ratelimited")
    with pytest.raises(RateLimitedError):
        await post(fake_slack)


async def test_unknown_channel_is_not_found(fake_slack: FakeSlack):
    with pytest.raises(NotFoundError):
        await slack.send_message(
            ctx_for(fake_slack), slack.SendMessageInput(channel="C0NOPE", text="hi")
        )


async def test_unknown_message_is_not_found(fake_slack: FakeSlack):
    with pytest.raises(NotFoundError):
        await slack.update_message(
            ctx_for(fake_slack),
            slack.UpdateMessageInput(channel="C0GENERAL", ts="1.000001", text="x"),
        )


async def test_other_slack_errors_are_invalid_input(fake_slack: FakeSlack):
    sent = await post(fake_slack)
    with pytest.raises(InvalidInputError):
        await slack.send_message(
            ctx_for(fake_slack),
            slack.SendMessageInput(channel="C0GENERAL", text="x", thread_ts="9.999999"),
        )
    fake_slack.fail_next("error", error="is_archived")
    with pytest.raises(InvalidInputError):
        await slack.update_message(
            ctx_for(fake_slack),
            slack.UpdateMessageInput(channel="C0GENERAL", ts=sent.ts, text="x"),
        )


async def test_server_error_is_transient_and_not_retried(fake_slack: FakeSlack):
    fake_slack.fail_next("server_error")

    with pytest.raises(TransientError):
        await post(fake_slack)

    assert len(fake_slack.requests) == 1


async def test_internal_error_code_is_transient(fake_slack: FakeSlack):
    fake_slack.fail_next("error", error="internal_error")
    with pytest.raises(TransientError):
        await post(fake_slack)


async def test_unreachable_slack_is_transient(fake_slack: FakeSlack, closed_port_url: str):
    ctx = ActionContext(
        credentials={"bot_token": VALID_TOKEN}, base_urls={"slack": closed_port_url + "/api/"}
    )
    with pytest.raises(TransientError):
        await slack.send_message(ctx, slack.SendMessageInput(channel="C0GENERAL", text="hi"))


def test_input_rejects_unknown_fields():
    with pytest.raises(ValidationError):
        slack.SendMessageInput.model_validate({"channel": "C1", "text": "x", "colour": "red"})


def test_connector_declares_its_credential():
    assert slack.CONNECTOR.credential_type == "oauth"
    assert slack.CONNECTOR.required_fields() == ["bot_token"]
    assert slack.CONNECTOR.secret_fields() == ["bot_token"]
    assert set(slack.CONNECTOR.actions) == {"send_message", "update_message", "add_reaction"}
    json.dumps(slack.CONNECTOR.actions["send_message"].input_schema())
