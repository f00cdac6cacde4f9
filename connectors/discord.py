"""Discord connector: post and edit channel messages, post through webhooks.

Speaks the Discord REST API v10 (https://discord.com/developers/docs/reference)
directly over httpx, against ``ctx.base_urls["discord"]``. Auth: a ``token``
credential holding a bot token, sent as ``Authorization: Bot <token>``; webhook
posts carry their own id and token in the path and need no credential. A
connection made through Discord's OAuth2 bot install acts with the operator's bot
token; a sandbox connection's requests go to ``discord_sandbox``, which records
instead of posting.

Why not discord.py's HTTP layer: its URLs come from the class attribute
``discord.http.Route.BASE`` (one value for the whole process, so a per-call base
URL would mean patching a global under concurrent activities), ``Webhook.from_url``
only accepts discord.com URLs, and both ``HTTPClient.request`` and the webhook
adapter sleep and retry on their own after a 429 or a 5xx (up to five tries).
Temporal must own retries and see ``RateLimitedError`` with Discord's
``retry_after``, so the documented wire format is spoken here instead.

A webhook URL is never fetched as given: its id and token are taken out of it
and the request goes to the configured Discord base, so a user-supplied URL
cannot point the worker anywhere else.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from connectors import discord_sandbox
from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/taskyard/taskyard, 0.1)"
SNOWFLAKE = r"^[0-9]{15,25}$"
WEBHOOK_PATH = re.compile(
    r"/api(?:/v\d+)?/webhooks/(?P<id>[0-9]{15,25})/(?P<token>[A-Za-z0-9._\-]+)/?$"
)
DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
)


# Content, embeds or both.
SOME_BODY: JsonDict = {
    "anyOf": [
        {"required": ["content"], "properties": {"content": {"minLength": 1}}},
        {"required": ["embeds"], "properties": {"embeds": {"type": "array", "minItems": 1}}},
    ]
}


class SendMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=SOME_BODY)

    channel_id: str = Field(pattern=SNOWFLAKE)
    content: str = Field(default="", max_length=2000)
    embeds: list[dict[str, Any]] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _not_empty(self) -> SendMessageInput:
        if not self.content and not self.embeds:
            raise ValueError("give content, embeds or both")
        return self


class EditMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: str = Field(pattern=SNOWFLAKE)
    message_id: str = Field(pattern=SNOWFLAKE)
    content: str = Field(max_length=2000)


class SendWebhookInput(BaseModel):
    # webhook_url, or webhook_id with webhook_token; and content, embeds or both.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            **SOME_BODY,
            "oneOf": [
                {
                    "required": ["webhook_url"],
                    "properties": {"webhook_url": {"type": "string"}},
                    "not": {"required": ["webhook_id", "webhook_token"]},
                },
                {
                    "required": ["webhook_id", "webhook_token"],
                    "properties": {
                        "webhook_id": {"type": "string"},
                        "webhook_token": {"type": "string"},
                    },
                    "not": {"required": ["webhook_url"]},
                },
            ],
        },
    )

    webhook_url: str | None = Field(default=None, description="https://discord.com/api/webhooks/…")
    webhook_id: str | None = Field(default=None, pattern=SNOWFLAKE)
    webhook_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._\-]+$")
    content: str = Field(default="", max_length=2000)
    username: str | None = Field(default=None, min_length=1, max_length=80)
    avatar_url: str | None = None
    embeds: list[dict[str, Any]] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _target_and_body(self) -> SendWebhookInput:
        if (self.webhook_url is None) == (self.webhook_id is None or self.webhook_token is None):
            raise ValueError("give either webhook_url or both webhook_id and webhook_token")
        if not self.content and not self.embeds:
            raise ValueError("give content, embeds or both")
        return self


class MessageOutput(BaseModel):
    id: str
    channel_id: str
    content: str = ""
    timestamp: str | None = None
    edited_timestamp: str | None = None


def _base(ctx: ActionContext) -> str:
    return ctx.base_urls.get("discord", DEFAULT_BASE_URL).rstrip("/")


def _bot_headers(ctx: ActionContext) -> dict[str, str]:
    token = ctx.credentials.get("bot_token")
    if not token:
        raise AuthError("Discord credential has no bot_token")
    return {"Authorization": f"Bot {token}"}


def _webhook_target(ctx: ActionContext, data: SendWebhookInput) -> tuple[str, str]:
    if data.webhook_url is None:
        assert data.webhook_id is not None and data.webhook_token is not None
        return data.webhook_id, data.webhook_token
    try:
        url = httpx.URL(data.webhook_url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidInputError("webhook_url is not a URL") from exc
    base = httpx.URL(_base(ctx))
    trusted = url.host in DISCORD_HOSTS and url.scheme == "https"
    if not trusted and (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        raise InvalidInputError("webhook_url is not a Discord webhook URL")
    match = WEBHOOK_PATH.search(url.path)
    if match is None:
        raise InvalidInputError("webhook_url is not a Discord webhook URL")
    return match["id"], match["token"]


def _retry_after(response: httpx.Response, body: Any) -> float | None:
    if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
        return max(0.0, float(body["retry_after"]))
    return retry_after_seconds(response.headers.get("retry-after"))


def _map_error(response: httpx.Response) -> ConnectorError:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    detail = ""
    if isinstance(body, dict) and "message" in body:
        detail = f": {body.get('code', '')} {body['message']}".rstrip()
    if status == 429:
        return RateLimitedError(
            f"Discord rate limit hit{detail}", retry_after=_retry_after(response, body)
        )
    if status in (401, 403):
        return AuthError(f"Discord refused the token (HTTP {status}){detail}", status_code=status)
    if status == 404:
        return NotFoundError(f"Discord: not found{detail}", status_code=status)
    if status >= 500:
        return TransientError(f"Discord server error (HTTP {status})", status_code=status)
    return InvalidInputError(
        f"Discord refused the request (HTTP {status}){detail}", status_code=status
    )


async def _request(
    ctx: ActionContext,
    method: str,
    path: str,
    *,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    transport = discord_sandbox.transport(ctx.sandbox) if ctx.sandbox is not None else None
    try:
        async with httpx.AsyncClient(timeout=ctx.timeout_seconds, transport=transport) as client:
            response = await client.request(
                method,
                _base(ctx) + path,
                json=json,
                params=params,
                headers={"User-Agent": USER_AGENT, **(headers or {})},
            )
    except httpx.HTTPError as exc:
        raise TransientError(f"could not reach Discord: {type(exc).__name__}") from exc
    if not response.is_success:
        raise _map_error(response)
    try:
        body = response.json()
    except ValueError as exc:
        raise TransientError("Discord answered with a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise TransientError("Discord answered with an unexpected body")
    return body


def _nonce(idempotency_key: str) -> str:
    """Discord nonces are at most 25 characters; the key is hashed down to fit."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:25]


async def send_message(ctx: ActionContext, data: SendMessageInput) -> MessageOutput:
    """Post to a channel as the bot; a retry with the same idempotency key posts once."""
    payload: dict[str, Any] = {"content": data.content}
    if data.embeds:
        payload["embeds"] = data.embeds
    if ctx.idempotency_key:
        payload["nonce"] = _nonce(ctx.idempotency_key)
        payload["enforce_nonce"] = True
    body = await _request(
        ctx,
        "POST",
        f"/channels/{data.channel_id}/messages",
        json=payload,
        headers=_bot_headers(ctx),
    )
    return MessageOutput.model_validate(body)


async def edit_message(ctx: ActionContext, data: EditMessageInput) -> MessageOutput:
    """Replace the content of a message the bot posted."""
    body = await _request(
        ctx,
        "PATCH",
        f"/channels/{data.channel_id}/messages/{data.message_id}",
        json={"content": data.content},
        headers=_bot_headers(ctx),
    )
    return MessageOutput.model_validate(body)


async def send_webhook(ctx: ActionContext, data: SendWebhookInput) -> MessageOutput:
    """Execute a webhook with ``wait=true`` so Discord returns the created message."""
    webhook_id, token = _webhook_target(ctx, data)
    payload: dict[str, Any] = {"content": data.content}
    for name in ("username", "avatar_url", "embeds"):
        value = getattr(data, name)
        if value:
            payload[name] = value
    body = await _request(
        ctx, "POST", f"/webhooks/{webhook_id}/{token}", json=payload, params={"wait": "true"}
    )
    return MessageOutput.model_validate(body)


async def test(ctx: ActionContext) -> dict[str, Any]:
    """``GET /users/@me``: which bot the token belongs to."""
    me = await _request(ctx, "GET", "/users/@me", headers=_bot_headers(ctx))
    return {"id": me.get("id"), "username": me.get("username"), "bot": me.get("bot", False)}


CONNECTOR = Connector(
    type="discord",
    name="Discord",
    description="Send messages to Discord channels and webhooks",
    categories=("communication", "chat", "messaging", "community"),
    credential_type="token",
    credential_fields=(CredentialField("bot_token", description="Bot token (for bot actions)"),),
    actions={
        "send_message": Action(
            name="send_message",
            description="Send message to channel",
            input_model=SendMessageInput,
            output_model=MessageOutput,
            handler=send_message,
        ),
        "send_webhook": Action(
            name="send_webhook",
            description="Send via webhook",
            input_model=SendWebhookInput,
            output_model=MessageOutput,
            handler=send_webhook,
        ),
        "edit_message": Action(
            name="edit_message",
            description="Edit existing message",
            input_model=EditMessageInput,
            output_model=MessageOutput,
            handler=edit_message,
        ),
    },
    test=test,
    # Webhook posts need no credential; bot actions fail with AuthError without one.
    requires_credentials=False,
)
