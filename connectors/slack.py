"""Slack connector: post, edit and react to messages.

Speaks the Slack Web API (``chat.postMessage``, ``chat.update``, ``reactions.add``,
``auth.test``) through slack_sdk's ``AsyncWebClient``, pointed at
``ctx.base_urls["slack"]``. Auth: an ``oauth`` credential holding a bot token
(``xoxb-…``) sent as ``Authorization: Bearer`` — given directly, or granted by
Slack's OAuth v2 install flow. The SDK's own retry handlers are switched off so
that Temporal alone decides when to retry; a 429 surfaces as ``RateLimitedError``
with Slack's ``Retry-After``. A sandbox connection's client is
``slack_sandbox.SandboxWebClient``, which records instead of posting.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from connectors import slack_sandbox
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

DEFAULT_BASE_URL = "https://slack.com/api/"

# Slack error codes (https://api.slack.com/web#errors), grouped by what a caller can do.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "not_allowed_token_type",
    }
)
NOT_FOUND_ERRORS = frozenset({"channel_not_found", "message_not_found"})
SERVER_ERRORS = frozenset(
    {"fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


class SendMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, description="Channel ID (C…) or name")
    text: str = Field(min_length=1, description="Message text; the fallback when blocks are set")
    blocks: list[dict[str, Any]] | None = Field(default=None, description="Block Kit blocks")
    thread_ts: str | None = Field(default=None, description="Reply in this thread")


class SendMessageOutput(BaseModel):
    channel: str
    ts: str
    thread_ts: str | None = None


class UpdateMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1)
    ts: str = Field(min_length=1, description="Timestamp of the message to update")
    text: str = Field(min_length=1)


class UpdateMessageOutput(BaseModel):
    channel: str
    ts: str
    text: str


class AddReactionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1)
    timestamp: str = Field(min_length=1, description="Timestamp of the message to react to")
    name: str = Field(min_length=1, description="Emoji name without colons, e.g. thumbsup")


class AddReactionOutput(BaseModel):
    channel: str
    timestamp: str
    name: str
    already_reacted: bool = Field(
        default=False, description="The reaction was already there (e.g. on a retry)"
    )


def _client(ctx: ActionContext) -> AsyncWebClient:
    token = ctx.credentials.get("bot_token")
    if not token:
        raise AuthError("Slack credential has no bot_token")
    base_url = ctx.base_urls.get("slack", DEFAULT_BASE_URL)
    if ctx.sandbox is not None:
        return slack_sandbox.SandboxWebClient(ctx.sandbox, token=str(token), base_url=base_url)
    return AsyncWebClient(
        token=str(token),
        base_url=base_url,
        timeout=max(1, math.ceil(ctx.timeout_seconds)),
        retry_handlers=[],
    )


def _error_code(exc: SlackApiError) -> str | None:
    data = getattr(exc.response, "data", None)
    return data.get("error") if isinstance(data, dict) else None


def _map_api_error(exc: SlackApiError) -> ConnectorError:
    response = exc.response
    # Usually an AsyncSlackResponse; the SDK hands over the raw aiohttp response
    # when the body was not JSON.
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    code = _error_code(exc)
    headers = getattr(response, "headers", None) or {}
    if status == 429 or code == "ratelimited":
        return RateLimitedError(
            "Slack rate limit hit",
            retry_after=retry_after_seconds(headers.get("Retry-After")),
            status_code=429,
        )
    if (isinstance(status, int) and status >= 500) or code in SERVER_ERRORS:
        return TransientError(f"Slack server error: {code or status}", status_code=status)
    if code in AUTH_ERRORS:
        return AuthError(f"Slack rejected the token: {code}", status_code=status)
    if code in NOT_FOUND_ERRORS:
        return NotFoundError(f"Slack: {code}", status_code=status)
    if code:
        return InvalidInputError(f"Slack refused the request: {code}", status_code=status)
    if isinstance(status, int) and status in (401, 403):
        return AuthError(f"Slack answered HTTP {status}", status_code=status)
    if isinstance(status, int) and status >= 400:
        return InvalidInputError(f"Slack answered HTTP {status}", status_code=status)
    return TransientError(f"unexpected Slack response (HTTP {status})", status_code=status)


async def _call(
    ctx: ActionContext,
    call: Callable[[AsyncWebClient], Awaitable[AsyncSlackResponse]],
    *,
    tolerated: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Make one Web API call and return its JSON body, mapping every failure.

    Error codes in ``tolerated`` mean the wanted state already holds; their body is returned.
    """
    client = _client(ctx)
    try:
        response = await call(client)
    except SlackApiError as exc:
        if _error_code(exc) in tolerated:
            return dict(exc.response.data)
        raise _map_api_error(exc) from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise TransientError(f"could not reach Slack: {type(exc).__name__}") from exc
    except SlackClientError as exc:
        raise InvalidInputError(f"Slack client refused the request: {exc}") from exc
    data = response.data
    if not isinstance(data, dict):
        raise TransientError("Slack answered with a body that is not JSON")
    return data


async def send_message(ctx: ActionContext, data: SendMessageInput) -> SendMessageOutput:
    """Post a message (optionally Block Kit, optionally in a thread)."""
    body = await _call(
        ctx,
        lambda client: client.chat_postMessage(
            channel=data.channel, text=data.text, blocks=data.blocks, thread_ts=data.thread_ts
        ),
    )
    message = body.get("message") or {}
    return SendMessageOutput(
        channel=body["channel"], ts=body["ts"], thread_ts=message.get("thread_ts")
    )


async def update_message(ctx: ActionContext, data: UpdateMessageInput) -> UpdateMessageOutput:
    """Replace the text of a message the bot posted."""
    body = await _call(
        ctx, lambda client: client.chat_update(channel=data.channel, ts=data.ts, text=data.text)
    )
    return UpdateMessageOutput(
        channel=body["channel"], ts=body["ts"], text=body.get("text", data.text)
    )


async def add_reaction(ctx: ActionContext, data: AddReactionInput) -> AddReactionOutput:
    """Add an emoji reaction; one that is already there counts as done, so retries are safe."""
    body = await _call(
        ctx,
        lambda client: client.reactions_add(
            channel=data.channel, timestamp=data.timestamp, name=data.name
        ),
        tolerated=frozenset({"already_reacted"}),
    )
    return AddReactionOutput(**data.model_dump(), already_reacted=body.get("ok") is False)


async def test(ctx: ActionContext) -> dict[str, Any]:
    """``auth.test``: who the token belongs to."""
    body = await _call(ctx, lambda client: client.auth_test())
    return {key: body.get(key) for key in ("team", "team_id", "user", "user_id", "bot_id", "url")}


CONNECTOR = Connector(
    type="slack",
    name="Slack",
    description="Send messages to Slack channels",
    categories=("communication", "chat", "messaging", "team collaboration"),
    credential_type="oauth",
    credential_fields=(
        CredentialField("bot_token", description="Bot user OAuth token (xoxb-…)"),
        CredentialField("app_id", secret=False, required=False, description="Slack app ID"),
    ),
    actions={
        "send_message": Action(
            name="send_message",
            description="Send message to channel",
            input_model=SendMessageInput,
            output_model=SendMessageOutput,
            handler=send_message,
        ),
        "update_message": Action(
            name="update_message",
            description="Update existing message",
            input_model=UpdateMessageInput,
            output_model=UpdateMessageOutput,
            handler=update_message,
        ),
        "add_reaction": Action(
            name="add_reaction",
            description="Add emoji reaction",
            input_model=AddReactionInput,
            output_model=AddReactionOutput,
            handler=add_reaction,
        ),
    },
    test=test,
)
