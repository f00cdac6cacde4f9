"""The connectors in sandbox mode: same code, sandbox vendors answer and record, no network.

The base URLs point at a port nobody listens on, so any request that escaped the
sandbox would fail with ``TransientError``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import pytest

from connectors import discord, gmail, oauth, oauth_sandbox, slack
from connectors import google_calendar as gcal
from connectors.base import ActionContext, SandboxItem
from connectors.errors import AuthError, InvalidInputError, NotFoundError


class MemorySandbox:
    """A ``SandboxStore`` in a dict, as the activity's recorder is in the database."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], SandboxItem] = {}

    async def add(self, kind: str, remote_id: str, data: Mapping[str, Any]) -> None:
        assert (kind, remote_id) not in self.objects
        self.objects[(kind, remote_id)] = SandboxItem(remote_id, dict(data), time.time())

    async def get(self, kind: str, remote_id: str) -> SandboxItem | None:
        return self.objects.get((kind, remote_id))

    async def put(self, kind: str, remote_id: str, data: Mapping[str, Any]) -> bool:
        old = self.objects.get((kind, remote_id))
        if old is None:
            return False
        self.objects[(kind, remote_id)] = SandboxItem(remote_id, dict(data), old.created_at)
        return True

    async def items(self, kind: str) -> list[SandboxItem]:
        return [item for (k, _), item in self.objects.items() if k == kind]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [item.data for (k, _), item in self.objects.items() if k == kind]


def granted(toolkit: str) -> dict[str, Any]:
    """What a sandbox connection of ``toolkit`` opens to, as the activity builds it."""
    provider = oauth.PROVIDERS[toolkit]
    digest = "ab" * 32
    token = oauth_sandbox.exchange(provider, oauth_sandbox.code_for(digest), digest, [])
    return {**oauth.credential_data(provider, token), **oauth_sandbox.client_fields(provider)}


def ctx(toolkit: str, store: MemorySandbox, nowhere: str, **creds: Any) -> ActionContext:
    return ActionContext(
        credentials={**granted(toolkit), **creds},
        base_urls={
            key: nowhere for key in ("gmail", "google_calendar", "google_token", "slack", "discord")
        },
        idempotency_key="wf:1",
        sandbox=store,
        timeout_seconds=2,
    )


def test_sandbox_grants_look_like_the_vendors():
    google, slack_grant, discord_grant = granted("gmail"), granted("slack"), granted("discord")
    assert google["access_token"].startswith("ya29.sandbox-")
    assert google["refresh_token"] and google["expires_at"] > time.time()
    assert (
        slack_grant["bot_token"].startswith("xoxb-sandbox-") and "access_token" not in slack_grant
    )
    assert slack_grant["team_name"] == "Sandbox Workspace"
    assert discord_grant["guild_id"].isdigit() and discord_grant["bot_token"]
    with pytest.raises(AuthError):
        oauth_sandbox.exchange(oauth.PROVIDERS["gmail"], "sbx_forged", "ab" * 32, [])
    with pytest.raises(AuthError):
        oauth_sandbox.refresh(oauth.PROVIDERS["gmail"], "1//sandbox-forged.0000")
    fresh = oauth_sandbox.refresh(oauth.PROVIDERS["gmail"], google["refresh_token"])
    assert fresh.access_token != google["access_token"]


async def test_gmail_sends_to_the_outbox(closed_port_url: str):
    store = MemorySandbox()
    data = gmail.SendEmailInput.model_validate({"to": "x@y.com", "subject": "Hi", "body": "Hello"})
    out = await gmail.send_email(ctx("gmail", store, closed_port_url), data)

    [sent] = store.of("gmail.message")
    assert (sent["to"], sent["subject"], sent["text"].strip()) == (["x@y.com"], "Hi", "Hello")
    assert out.id == sent["id"] and out.label_ids == ["SENT"]
    assert b"Subject: Hi" in base64.urlsafe_b64decode(sent["raw"])

    listed = await gmail.list_messages(
        ctx("gmail", store, closed_port_url), gmail.ListMessagesInput(q="to:x@y.com")
    )
    assert [m.id for m in listed.messages] == [out.id]
    got = await gmail.get_message(
        ctx("gmail", store, closed_port_url), gmail.GetMessageInput(id=out.id)
    )
    assert got.headers["Subject"] == "Hi" and got.snippet == "Hello"


async def test_gmail_refreshes_at_the_sandbox_token_endpoint(closed_port_url: str):
    store = MemorySandbox()
    context = ctx("gmail", store, closed_port_url, access_token="ya29.stale", expires_at=1)
    out = await gmail.list_messages(context, gmail.ListMessagesInput())
    assert out.refreshed_credentials is not None
    assert out.refreshed_credentials["access_token"].startswith("ya29.sandbox-")
    with pytest.raises(AuthError):  # only tokens the sandbox issued
        await gmail.list_messages(
            ctx("gmail", store, closed_port_url, access_token="ya29.real", refresh_token=""),
            gmail.ListMessagesInput(),
        )


async def test_calendar_in_the_sandbox(closed_port_url: str):
    store = MemorySandbox()
    context = ctx("google-calendar", store, closed_port_url)
    event = await gcal.create_event(
        context,
        gcal.CreateEventInput(
            summary="Demo", start="2026-05-04T09:00:00Z", end="2026-05-04T10:00:00Z"
        ),
    )
    again = await gcal.create_event(  # a retry with the same idempotency key
        context,
        gcal.CreateEventInput(
            summary="Demo", start="2026-05-04T09:00:00Z", end="2026-05-04T10:00:00Z"
        ),
    )
    assert again.id == event.id and len(store.of("calendar.event")) == 1

    listed = await gcal.list_events(context, gcal.ListEventsInput(q="demo"))
    assert [e.id for e in listed.events] == [event.id]
    busy = await gcal.free_busy(
        context,
        gcal.FreeBusyInput.model_validate(
            {"time_min": "2026-05-04T09:30:00Z", "time_max": "2026-05-05T00:00:00Z"}
        ),
    )
    assert busy.calendars["primary"].busy == [
        gcal.BusyPeriod(start="2026-05-04T09:30:00Z", end="2026-05-04T10:00:00Z")
    ]
    gone = await gcal.delete_event(context, gcal.DeleteEventInput(event_id=event.id))
    twice = await gcal.delete_event(context, gcal.DeleteEventInput(event_id=event.id))
    assert (gone.already_deleted, twice.already_deleted) == (False, True)
    assert (await gcal.list_events(context, gcal.ListEventsInput())).events == []
    with pytest.raises(NotFoundError):
        await gcal.list_events(context, gcal.ListEventsInput(calendar_id="other@x.test"))
    assert gcal.CONNECTOR.test is not None
    assert (await gcal.CONNECTOR.test(context))["calendar_id"].endswith(".invalid")


async def test_slack_posts_are_recorded(closed_port_url: str):
    store = MemorySandbox()
    context = ctx("slack", store, closed_port_url)
    sent = await slack.send_message(
        context, slack.SendMessageInput(channel="#general", text="hello")
    )
    assert sent.channel.startswith("C0SBX")
    edited = await slack.update_message(
        context, slack.UpdateMessageInput(channel="#general", ts=sent.ts, text="hello!")
    )
    assert edited.text == "hello!"
    reaction = slack.AddReactionInput(channel=sent.channel, timestamp=sent.ts, name="tada")
    assert not (await slack.add_reaction(context, reaction)).already_reacted
    assert (await slack.add_reaction(context, reaction)).already_reacted
    [message] = store.of("slack.message")
    assert (message["channelName"], message["text"]) == ("#general", "hello!")
    with pytest.raises(NotFoundError):
        await slack.update_message(
            context, slack.UpdateMessageInput(channel="C0OTHER", ts=sent.ts, text="x")
        )
    with pytest.raises(AuthError):
        await slack.send_message(
            ctx("slack", store, closed_port_url, bot_token="xoxb-real"),
            slack.SendMessageInput(channel="C1", text="x"),
        )


async def test_discord_posts_are_recorded(closed_port_url: str):
    store = MemorySandbox()
    context = ctx("discord", store, closed_port_url)
    channel = "123456789012345678"
    sent = await discord.send_message(
        context, discord.SendMessageInput(channel_id=channel, content="hi")
    )
    again = await discord.send_message(  # same idempotency key: the nonce posts once
        context, discord.SendMessageInput(channel_id=channel, content="hi")
    )
    assert again.id == sent.id and len(store.of("discord.message")) == 1
    edited = await discord.edit_message(
        context, discord.EditMessageInput(channel_id=channel, message_id=sent.id, content="hey")
    )
    assert edited.content == "hey" and edited.edited_timestamp
    hooked = await discord.send_webhook(
        context,
        discord.SendWebhookInput(
            webhook_url="https://discord.com/api/webhooks/223456789012345678/tok", content="yo"
        ),
    )
    assert hooked.content == "yo" and len(store.of("discord.message")) == 2
    with pytest.raises(NotFoundError):
        await discord.edit_message(
            context,
            discord.EditMessageInput(
                channel_id=channel, message_id="999999999999999999", content="x"
            ),
        )
    with pytest.raises(AuthError):
        await discord.send_message(
            ctx("discord", store, closed_port_url, bot_token="real"),
            discord.SendMessageInput(channel_id=channel, content="x"),
        )


async def test_sandbox_refusals_are_the_vendors(closed_port_url: str):
    store = MemorySandbox()
    with pytest.raises(InvalidInputError):
        await gcal.create_event(
            ctx("google-calendar", store, closed_port_url),
            gcal.CreateEventInput.model_construct(
                calendar_id="primary",
                summary="x",
                start="2026-05-04T10:00:00Z",
                end="2026-05-04T09:00:00Z",
                time_zone=None,
                attendees=[],
                send_updates="none",
                description=None,
                location=None,
            ),
        )
