"""The sandbox Slack: Web API methods answered locally, posts kept in a recorder.

Sandbox connections (made without the operator's Slack app) get a
``SandboxWebClient``: slack_sdk's own client whose ``api_call`` — the one method
every Web API method goes through — answers as Slack documents instead of
making an HTTP request. The Slack connector runs unchanged, so the method
names, arguments and answers are Slack's:

* ``chat.postMessage`` → ``slack.message`` items (nothing is posted anywhere);
  a channel given by name (``#general``) gets a stable channel id, as Slack
  answers with the id.
* ``chat.update`` edits a recorded message (``message_not_found`` otherwise).
* ``reactions.add`` → ``slack.reaction`` items (``already_reacted`` the second time).
* ``auth.test`` names the sandbox workspace.

Only bot tokens the sandbox issued are accepted (``invalid_auth`` otherwise).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from connectors import oauth_sandbox
from connectors.base import SandboxStore

MESSAGE = "slack.message"
REACTION = "slack.reaction"
TEAM = {"team": "Sandbox Workspace", "team_id": "T0SANDBOX", "url": "https://sandbox.invalid/"}


def channel_id(channel: str) -> str:
    """Slack answers with channel ids; a name gets a stable sandbox id."""
    name = channel.lstrip("#")
    if name[:1] in ("C", "G", "D") and name.isalnum() and name.isupper():
        return name
    return "C0SBX" + hashlib.sha256(name.lower().encode()).hexdigest()[:6].upper()


class SandboxWebClient(AsyncWebClient):
    """slack_sdk's client, answered by the sandbox for one connection's store."""

    def __init__(self, store: SandboxStore, *, token: str, base_url: str) -> None:
        super().__init__(token=token, base_url=base_url, retry_handlers=[])
        self.store = store

    @staticmethod
    def _ts() -> str:
        """Slack's message timestamp: Unix seconds and microseconds."""
        micros = time.time_ns() // 1000
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    async def api_call(  # type: ignore[override]  # same call, answered locally
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        args: dict[str, Any] = {
            **(params or {}),
            **(data if isinstance(data, Mapping) else {}),
            **(json or {}),
        }
        if not str(self.token or "").startswith(oauth_sandbox.SLACK_BOT_PREFIX):
            body: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        else:
            body = await self._answer(api_method, args)
        return AsyncSlackResponse(
            client=self,
            http_verb=http_verb,
            api_url=self.base_url + api_method,
            req_args=args,
            data=body,
            headers={},
            status_code=200,
        ).validate()

    async def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, **TEAM, "user": "sandbox-bot", "user_id": "U0SANDBOX"}
        if method == "chat.postMessage":
            return await self._post(args)
        if method == "chat.update":
            return await self._update(args)
        if method == "reactions.add":
            return await self._react(args)
        return {"ok": False, "error": "unknown_method"}

    async def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        channel = channel_id(str(args["channel"]))
        ts = self._ts()
        message = {
            "type": "message",
            "user": "U0SANDBOX",
            "text": args.get("text", ""),
            "ts": ts,
            "bot_id": "B0SANDBOX",
        }
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        record = {"channel": channel, "channelName": args.get("channel"), **message}
        await self.store.add(MESSAGE, f"{channel}/{ts}", record)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    async def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = channel_id(str(args.get("channel") or ""))
        key = f"{channel}/{args.get('ts')}"
        item = await self.store.get(MESSAGE, key)
        if item is None:
            return {"ok": False, "error": "message_not_found"}
        text = str(args.get("text") or "")
        await self.store.put(MESSAGE, key, {**item.data, "text": text, "edited": self._ts()})
        return {"ok": True, "channel": channel, "ts": args.get("ts"), "text": text}

    async def _react(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = channel_id(str(args.get("channel") or ""))
        ts, name = args.get("timestamp"), str(args.get("name") or "")
        if await self.store.get(MESSAGE, f"{channel}/{ts}") is None:
            return {"ok": False, "error": "message_not_found"}
        key = f"{channel}/{ts}/{name}"
        if await self.store.get(REACTION, key) is not None:
            return {"ok": False, "error": "already_reacted"}
        await self.store.add(REACTION, key, {"channel": channel, "timestamp": ts, "name": name})
        return {"ok": True}
