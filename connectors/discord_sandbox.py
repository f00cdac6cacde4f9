"""The sandbox Discord: REST API v10 answered locally, posts kept in a recorder.

Sandbox connections (made without the operator's Discord application) send the
Discord connector's requests here through an httpx transport. Paths, JSON and
errors are Discord's (https://discord.com/developers/docs/reference):

* ``POST /channels/{id}/messages`` → ``discord.message`` items (nothing is
  posted); a repeated ``nonce`` with ``enforce_nonce`` returns the first message.
* ``PATCH /channels/{id}/messages/{id}`` edits a recorded message (10008 Unknown
  Message otherwise).
* ``POST /webhooks/{id}/{token}`` → ``discord.message`` items of the webhook's channel.
* ``GET /users/@me`` names the sandbox bot.

Bot calls need the sandbox bot token (401 otherwise).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors import oauth_sandbox
from connectors.base import SandboxStore

MESSAGE = "discord.message"
DISCORD_EPOCH_MS = 1_420_070_400_000
BOT_ID = oauth_sandbox.snowflake("bot")
CHANNEL_MESSAGES = re.compile(r"/channels/(?P<channel>\d+)/messages(?:/(?P<message>\d+))?/?$")
WEBHOOK = re.compile(r"/webhooks/(?P<id>\d+)/(?P<token>[^/]+)/?$")
ME = re.compile(r"/users/@me/?$")


def _error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message})


def transport(store: SandboxStore) -> httpx.AsyncBaseTransport:
    """Route the Discord connector's httpx client to the sandbox Discord of one connection."""
    return httpx.MockTransport(SandboxDiscord(store).handle)


class SandboxDiscord:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    @staticmethod
    def _snowflake() -> str:
        """Milliseconds since Discord's epoch, shifted, plus random low bits."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | secrets.randbelow(1 << 22))

    def _authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bot {oauth_sandbox.BOT_TOKEN}"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        try:
            body = json.loads(request.content) if request.content else {}
        except ValueError:
            return _error(400, 50109, "The request body contains invalid JSON.")
        if match := WEBHOOK.search(path):
            if request.method != "POST":
                return _error(405, 0, "405: Method Not Allowed")
            channel = oauth_sandbox.snowflake("webhook-channel", match["id"])
            author = {"id": match["id"], "username": body.get("username") or "Sandbox Webhook"}
            return await self._create(channel, body, author, webhook_id=match["id"])
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        if ME.search(path) and request.method == "GET":
            return httpx.Response(
                200, json={"id": BOT_ID, "username": "Taskyard Sandbox Bot", "bot": True}
            )
        if match := CHANNEL_MESSAGES.search(path):
            if match["message"] is None and request.method == "POST":
                author = {"id": BOT_ID, "username": "Taskyard Sandbox Bot", "bot": True}
                return await self._create(match["channel"], body, author)
            if match["message"] is not None and request.method == "PATCH":
                return await self._edit(match["channel"], match["message"], body)
        return _error(404, 0, "404: Not Found")

    async def _create(
        self,
        channel: str,
        body: dict[str, Any],
        author: dict[str, Any],
        *,
        webhook_id: str | None = None,
    ) -> httpx.Response:
        if not body.get("content") and not body.get("embeds"):
            return _error(400, 50006, "Cannot send an empty message")
        nonce = body.get("nonce")
        if nonce and body.get("enforce_nonce"):
            for item in await self.store.items(MESSAGE):
                if item.data.get("nonce") == nonce and item.data.get("channel_id") == channel:
                    return httpx.Response(200, json=item.data)
        message = {
            "id": self._snowflake(),
            "type": 0,
            "channel_id": channel,
            "content": body.get("content", ""),
            "embeds": body.get("embeds") or [],
            "author": author,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
        }
        if nonce:
            message["nonce"] = nonce
        if webhook_id:
            message["webhook_id"] = webhook_id
        await self.store.add(MESSAGE, message["id"], message)
        return httpx.Response(200, json=message)

    async def _edit(self, channel: str, message_id: str, body: dict[str, Any]) -> httpx.Response:
        item = await self.store.get(MESSAGE, message_id)
        if item is None or item.data.get("channel_id") != channel:
            return _error(404, 10008, "Unknown Message")
        edited = {
            **item.data,
            "content": body.get("content", item.data.get("content", "")),
            "edited_timestamp": datetime.now(UTC).isoformat(),
        }
        await self.store.put(MESSAGE, message_id, edited)
        return httpx.Response(200, json=edited)
