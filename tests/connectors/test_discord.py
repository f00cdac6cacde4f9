"""The Discord connector against a local Discord REST API v10 speaking Discord's wire format."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from connectors import discord
from connectors.base import ActionContext
from connectors.errors import (
    AuthError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from tests.fakes.discord import BOT_TOKEN, CHANNEL_ID, WEBHOOK_ID, WEBHOOK_TOKEN, FakeDiscord


def ctx_for(
    fake: FakeDiscord | str, token: str | None = BOT_TOKEN, idempotency_key: str | None = None
) -> ActionContext:
    base = fake if isinstance(fake, str) else fake.base_url
    return ActionContext(
        credentials={"bot_token": token} if token else {},
        base_urls={"discord": base},
        idempotency_key=idempotency_key,
        timeout_seconds=5,
    )


async def post(fake: FakeDiscord, content: str = "hello", **ctx: str) -> discord.MessageOutput:
    return await discord.send_message(
        ctx_for(fake, **ctx), discord.SendMessageInput(channel_id=CHANNEL_ID, content=content)
    )


async def test_send_message_as_the_bot(fake_discord: FakeDiscord):
    embeds = [{"title": "Build", "description": "green", "color": 0x2ECC71}]

    out = await discord.send_message(
        ctx_for(fake_discord),
        discord.SendMessageInput(channel_id=CHANNEL_ID, content="Deployed", embeds=embeds),
    )

    assert out.channel_id == CHANNEL_ID and out.content == "Deployed"
    [call] = fake_discord.requests
    assert (call.method, call.path) == ("POST", f"/api/v10/channels/{CHANNEL_ID}/messages")
    assert call.headers["authorization"] == f"Bot {BOT_TOKEN}"
    assert call.headers["user-agent"].startswith("DiscordBot (")
    assert call.json == {"content": "Deployed", "embeds": embeds}


async def test_send_message_with_an_idempotency_key_posts_once(fake_discord: FakeDiscord):
    first = await post(fake_discord, idempotency_key="wf-9/activity-3")
    again = await post(fake_discord, idempotency_key="wf-9/activity-3")

    assert first.id == again.id
    assert len(fake_discord.messages) == 1
    nonce = fake_discord.requests[0].json["nonce"]
    assert len(nonce) <= 25 and fake_discord.requests[0].json["enforce_nonce"] is True


async def test_edit_message(fake_discord: FakeDiscord):
    sent = await post(fake_discord, "draft")

    out = await discord.edit_message(
        ctx_for(fake_discord),
        discord.EditMessageInput(channel_id=CHANNEL_ID, message_id=sent.id, content="final"),
    )

    assert (out.id, out.content) == (sent.id, "final")
    assert out.edited_timestamp is not None
    call = fake_discord.requests[-1]
    assert (call.method, call.json) == ("PATCH", {"content": "final"})


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
        f"https://discordapp.com/api/v9/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
    ],
)
async def test_send_webhook_by_url_goes_to_the_configured_base(fake_discord: FakeDiscord, url: str):
    out = await discord.send_webhook(
        ctx_for(fake_discord, token=None),
        discord.SendWebhookInput(webhook_url=url, content="From CI", username="Taskyard"),
    )

    assert out.channel_id == CHANNEL_ID and out.content == "From CI"
    [call] = fake_discord.requests
    assert call.path == f"/api/v10/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
    assert call.query == {"wait": "true"}
    assert "authorization" not in call.headers
    assert call.json == {"content": "From CI", "username": "Taskyard"}


async def test_send_webhook_by_id_and_token(fake_discord: FakeDiscord):
    out = await discord.send_webhook(
        ctx_for(fake_discord),
        discord.SendWebhookInput(webhook_id=WEBHOOK_ID, webhook_token=WEBHOOK_TOKEN, content="hi"),
    )
    assert out.id in fake_discord.messages


async def test_send_webhook_url_of_another_host_is_refused(fake_discord: FakeDiscord):
    with pytest.raises(InvalidInputError):
        await discord.send_webhook(
            ctx_for(fake_discord),
            discord.SendWebhookInput(
                webhook_url=f"http://169.254.169.254/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
                content="hi",
            ),
        )
    assert fake_discord.requests == []


async def test_wrong_webhook_token_is_an_auth_error(fake_discord: FakeDiscord):
    with pytest.raises(AuthError):
        await discord.send_webhook(
            ctx_for(fake_discord),
            discord.SendWebhookInput(webhook_id=WEBHOOK_ID, webhook_token="nope", content="hi"),
        )


async def test_connector_test_reads_the_bot_user(fake_discord: FakeDiscord):
    assert discord.CONNECTOR.test is not None
    info = await discord.CONNECTOR.test(ctx_for(fake_discord))
    assert info == {"id": "333333333333333333", "username": "taskyard", "bot": True}


async def test_bad_token_is_an_auth_error(fake_discord: FakeDiscord):
    with pytest.raises(AuthError):
        await post(fake_discord, token="not-the-token")


async def test_missing_token_is_an_auth_error_without_a_request(fake_discord: FakeDiscord):
    with pytest.raises(AuthError):
        await post(fake_discord, token=None)  # type: ignore[arg-type]
    assert fake_discord.requests == []


async def test_unknown_channel_and_message_are_not_found(fake_discord: FakeDiscord):
    with pytest.raises(NotFoundError):
        await discord.send_message(
            ctx_for(fake_discord),
            discord.SendMessageInput(channel_id="999999999999999999", content="x"),
        )
    with pytest.raises(NotFoundError):
        await discord.edit_message(
            ctx_for(fake_discord),
            discord.EditMessageInput(
                channel_id=CHANNEL_ID, message_id="999999999999999999", content="x"
            ),
        )


async def test_rate_limit_uses_retry_after_from_the_body(fake_discord: FakeDiscord):
    fake_discord.fail_next("rate_limited", retry_after=0.75)

    with pytest.raises(RateLimitedError) as info:
        await post(fake_discord)

    assert info.value.retry_after == 0.75
    assert len(fake_discord.requests) == 1


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("unauthorized", AuthError),
        ("forbidden", AuthError),
        ("not_found", NotFoundError),
        ("bad_request", InvalidInputError),
        ("server_error", TransientError),
    ],
)
async def test_vendor_failures_map_to_typed_errors(
    fake_discord: FakeDiscord, kind: str, error: type
):
    fake_discord.fail_next(kind)

    with pytest.raises(error):
        await post(fake_discord)

    assert len(fake_discord.requests) == 1


async def test_unreachable_discord_is_transient(closed_port_url: str):
    with pytest.raises(TransientError):
        await discord.send_message(
            ctx_for(closed_port_url + "/api/v10"),
            discord.SendMessageInput(channel_id=CHANNEL_ID, content="x"),
        )


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (discord.SendMessageInput, {"channel_id": "general", "content": "x"}),
        (discord.SendMessageInput, {"channel_id": CHANNEL_ID, "content": ""}),
        (discord.SendMessageInput, {"channel_id": CHANNEL_ID, "content": "x" * 2001}),
        (discord.SendMessageInput, {"channel_id": CHANNEL_ID, "content": "x", "tts": True}),
        (discord.SendWebhookInput, {"content": "x"}),
        (discord.SendWebhookInput, {"webhook_id": WEBHOOK_ID, "content": "x"}),
        (discord.EditMessageInput, {"channel_id": CHANNEL_ID, "message_id": "../x", "content": ""}),
    ],
)
def test_bad_input_is_rejected(model: type[BaseModel], payload: dict[str, object]):
    with pytest.raises(ValidationError):
        model.model_validate(payload)


def test_connector_declares_its_credential():
    c = discord.CONNECTOR
    assert c.credential_type == "token"
    assert c.required_fields() == ["bot_token"] == c.secret_fields()
    assert set(c.actions) == {"send_message", "send_webhook", "edit_message"}
