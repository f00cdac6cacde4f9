"""A Slack Web API stand-in: chat.postMessage, chat.update, reactions.add and auth.test,
plus the OAuth v2 install flow.

Wire format as documented at https://api.slack.com/web: methods are POSTed to
``/api/<method>`` with arguments as JSON, form fields or query parameters, the
token in ``Authorization: Bearer``; answers are JSON ``{"ok": true, ...}`` or
``{"ok": false, "error": "<code>"}`` with HTTP 200, except rate limits (HTTP 429
with ``Retry-After``) and server failures (HTTP 5xx).

OAuth v2 (https://api.slack.com/authentication/oauth-v2): ``GET /oauth/v2/authorize``
(``client_id``, comma-separated bot ``scope``, ``redirect_uri``, ``state``) sends the
installer back with ``code`` and ``state``; ``oauth.v2.access`` (form-encoded
``client_id``, ``client_secret``, ``code``, ``redirect_uri``) answers the bot token
with its workspace, or ``{"ok": false, "error": "invalid_code"}``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

VALID_TOKEN = "xoxb-test-token"
OAUTH_CLIENT_ID = "1111111111.2222222222"
OAUTH_CLIENT_SECRET = "slack-client-" + "s3cr3t" * 3


@dataclass
class FakeSlack:
    """State of the fake workspace; ``fail_next`` queues the next answers."""

    base_url: str = ""
    tokens: set[str] = field(default_factory=lambda: {VALID_TOKEN})
    channels: set[str] = field(default_factory=lambda: {"C0GENERAL", "C0RANDOM"})
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reactions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    queued: list[Response] = field(default_factory=list)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (redirect, scope)
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def authorize_url(self) -> str:
        return self.base_url + "/oauth/v2/authorize"

    @property
    def token_url(self) -> str:
        return self.base_url + "/api/oauth.v2.access"

    def reset(self) -> None:
        self.tokens = {VALID_TOKEN}
        self.messages.clear()
        self.reactions.clear()
        self.requests.clear()
        self.queued.clear()

    def fail_next(self, kind: str, *, retry_after: int = 30, error: str = "") -> None:
        """Answer the next request like Slack does for ``kind``.

        ``rate_limited`` (429 + Retry-After), ``unauthorized`` (``invalid_auth``),
        ``not_found`` (``channel_not_found``), ``server_error`` (HTML 503),
        or ``error`` with a given ``error`` code.
        """
        if kind == "rate_limited":
            self.queued.append(
                JSONResponse(
                    {"ok": False, "error": "ratelimited"},
                    status_code=429,
                    headers={"Retry-After": str(retry_after)},
                )
            )
        elif kind == "server_error":
            self.queued.append(
                PlainTextResponse(
                    "<html><body>Service Unavailable</body></html>",
                    status_code=503,
                    media_type="text/html",
                )
            )
        else:
            code = {"unauthorized": "invalid_auth", "not_found": "channel_not_found"}.get(
                kind, error
            )
            self.queued.append(JSONResponse({"ok": False, "error": code}))

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == f"/api/{method}"]

    def _ts(self) -> str:
        return f"1700000000.{next(self._clock):06d}"

    async def dispatch(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        if self.queued:
            return self.queued.pop(0)
        args: dict[str, Any] = {**rec.query, **rec.form, **(rec.json or {})}
        if request.path_params["method"] == "oauth.v2.access":
            return self._oauth_access(args)
        auth = rec.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return _error("not_authed")
        if token not in self.tokens:
            return _error("invalid_auth")
        method = request.path_params["method"]
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "reactions.add": self._react,
        }.get(method)
        if handler is None:
            return _error("unknown_method")
        return handler(args)

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != OAUTH_CLIENT_ID or not q.get("redirect_uri"):
            return PlainTextResponse("invalid_client_id", status_code=400)
        code = f"slack-code-{next(self._clock)}"
        self.codes[code] = (q["redirect_uri"], q.get("scope", ""))
        query = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

    def _oauth_access(self, args: dict[str, Any]) -> Response:
        if args.get("client_id") != OAUTH_CLIENT_ID:
            return _error("invalid_client_id")
        if args.get("client_secret") != OAUTH_CLIENT_SECRET:
            return _error("bad_client_secret")
        grant = self.codes.pop(str(args.get("code")), None)
        if grant is None:
            return _error("invalid_code")
        if grant[0] != args.get("redirect_uri"):
            return _error("bad_redirect_uri")
        token = f"xoxb-installed-{next(self._clock)}"
        self.tokens.add(token)
        return JSONResponse(
            {
                "ok": True,
                "access_token": token,
                "token_type": "bot",
                "scope": grant[1],
                "bot_user_id": "U0BOT",
                "app_id": "A0TASKYARD",
                "team": {"id": "T0TEST", "name": "Taskyard Test"},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        )

    def _auth_test(self, _args: dict[str, Any]) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "url": "https://taskyard-test.slack.com/",
                "team": "Taskyard Test",
                "team_id": "T0TEST",
                "user": "taskyard",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        )

    def _post_message(self, args: dict[str, Any]) -> Response:
        channel = args.get("channel")
        if not channel:
            return _error("channel_not_found")
        if channel not in self.channels:
            return _error("channel_not_found")
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and not blocks:
            return _error("no_text")
        ts = self._ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": "U0BOT",
            "bot_id": "B0BOT",
            "text": args.get("text", ""),
            "ts": ts,
        }
        if blocks:
            message["blocks"] = blocks
        if args.get("thread_ts"):
            if (channel, args["thread_ts"]) not in self.messages:
                return _error("thread_not_found")
            message["thread_ts"] = args["thread_ts"]
        self.messages[(channel, ts)] = message
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": message})

    def _update(self, args: dict[str, Any]) -> Response:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        if channel not in self.channels:
            return _error("channel_not_found")
        message = self.messages.get((channel, ts))
        if message is None:
            return _error("message_not_found")
        message["text"] = args.get("text", "")
        return JSONResponse(
            {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": message}
        )

    def _react(self, args: dict[str, Any]) -> Response:
        channel, ts, name = args.get("channel", ""), args.get("timestamp", ""), args.get("name")
        if channel not in self.channels:
            return _error("channel_not_found")
        if (channel, ts) not in self.messages:
            return _error("message_not_found")
        if not name:
            return _error("invalid_name")
        names = self.reactions.setdefault((channel, ts), [])
        if name in names:
            return _error("already_reacted")
        names.append(name)
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self.dispatch, methods=["GET", "POST"]),
                Route("/oauth/v2/authorize", self.authorize, methods=["GET"]),
            ]
        )


def _error(code: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": code})
