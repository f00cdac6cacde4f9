"""A Discord REST API v10 stand-in: channel messages, webhook execution, ``/users/@me``.

Wire format as documented at https://discord.com/developers/docs: JSON bodies,
``Authorization: Bot <token>``, message objects as JSON, errors as
``{"code": <int>, "message": "..."}`` with the HTTP status, and rate limits as
HTTP 429 with ``Retry-After`` plus ``{"message", "retry_after", "global"}``.
Message nonces with ``enforce_nonce`` deduplicate like Discord does.

OAuth2 (https://discord.com/developers/docs/topics/oauth2): ``POST /api/oauth2/token``
takes a form-encoded ``authorization_code`` grant with the client's id and secret and,
for the ``bot`` scope, answers the token with the ``guild`` the bot was added to.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.bot-token"
CHANNEL_ID = "111111111111111111"
WEBHOOK_ID = "222222222222222222"
WEBHOOK_TOKEN = "w3bh00k-t0ken_" + "x" * 50
GUILD_ID = "333333333333333333"
OAUTH_CLIENT_ID = "444444444444444444"
OAUTH_CLIENT_SECRET = "discord-client-secret"


@dataclass
class FakeDiscord:
    """One guild's worth of Discord; ``fail_next`` queues the next answers."""

    base_url: str = ""  # the API base, ending in /api/v10
    channels: set[str] = field(default_factory=lambda: {CHANNEL_ID})
    webhooks: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {WEBHOOK_ID: (WEBHOOK_TOKEN, CHANNEL_ID)}
    )
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    queued: list[Response] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)  # authorization code → redirect URI
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def issue_code(self, redirect_uri: str) -> str:
        """A code, as Discord's consent page would hand one to ``redirect_uri``."""
        code = f"discord-code-{next(self._ids)}"
        self.codes[code] = redirect_uri
        return code

    async def oauth_token(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        form = rec.form
        if (form.get("client_id"), form.get("client_secret")) != (
            OAUTH_CLIENT_ID,
            OAUTH_CLIENT_SECRET,
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": 'Invalid "code" in request.'},
                status_code=400,
            )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "access_token": f"discord-access-{next(self._ids)}",
                "expires_in": 604800,
                "refresh_token": f"discord-refresh-{next(self._ids)}",
                "scope": "identify bot",
                "guild": {"id": GUILD_ID, "name": "Taskyard Test Guild"},
            }
        )

    def reset(self) -> None:
        self.messages.clear()
        self.nonces.clear()
        self.requests.clear()
        self.queued.clear()

    def fail_next(self, kind: str, *, retry_after: float = 1.5) -> None:
        """Answer the next request like Discord does for ``kind``.

        ``rate_limited`` (429), ``unauthorized`` (401), ``forbidden`` (403, 50013),
        ``not_found`` (404, 10008), ``bad_request`` (400, 50035), ``server_error`` (502).
        """
        if kind == "rate_limited":
            response: Response = JSONResponse(
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                },
                status_code=429,
                headers={
                    "Retry-After": str(int(retry_after) + 1),
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                },
            )
        elif kind == "server_error":
            response = Response("<html>502 Bad Gateway</html>", 502, media_type="text/html")
        else:
            status, code, message = {
                "unauthorized": (401, 0, "401: Unauthorized"),
                "forbidden": (403, 50013, "Missing Permissions"),
                "not_found": (404, 10008, "Unknown Message"),
                "bad_request": (400, 50035, "Invalid Form Body"),
            }[kind]
            response = _error(status, code, message)
        self.queued.append(response)

    def _snowflake(self) -> str:
        return str(1_200_000_000_000_000_000 + next(self._ids))

    async def dispatch(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        if self.queued:
            return self.queued.pop(0)
        path = request.path_params["path"]
        parts = path.strip("/").split("/")
        if parts[:1] == ["webhooks"] and len(parts) == 3 and rec.method == "POST":
            return self._execute_webhook(parts[1], parts[2], rec)
        if rec.headers.get("authorization") != f"Bot {BOT_TOKEN}":
            return _error(401, 0, "401: Unauthorized")
        if parts == ["users", "@me"] and rec.method == "GET":
            return JSONResponse({"id": "333333333333333333", "username": "taskyard", "bot": True})
        if len(parts) >= 3 and parts[0] == "channels" and parts[2] == "messages":
            if parts[1] not in self.channels:
                return _error(404, 10003, "Unknown Channel")
            if len(parts) == 3 and rec.method == "POST":
                return self._create(parts[1], rec.json or {}, author="bot")
            if len(parts) == 4 and rec.method == "PATCH":
                return self._edit(parts[1], parts[3], rec.json or {})
        return _error(404, 0, "404: Not Found")

    def _create(self, channel_id: str, body: dict[str, Any], *, author: str) -> Response:
        if not body.get("content") and not body.get("embeds"):
            return _error(400, 50006, "Cannot send an empty message")
        if len(body.get("content", "")) > 2000:
            return _error(400, 50035, "Invalid Form Body")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce") and nonce in self.nonces:
            return JSONResponse(self.messages[self.nonces[nonce]])
        message = {
            "id": self._snowflake(),
            "channel_id": channel_id,
            "type": 0,
            "content": body.get("content", ""),
            "embeds": body.get("embeds", []),
            "author": {"id": "333333333333333333", "username": author, "bot": True},
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
        }
        if nonce is not None:
            message["nonce"] = nonce
            self.nonces[nonce] = message["id"]
        self.messages[message["id"]] = message
        return JSONResponse(message)

    def _edit(self, channel_id: str, message_id: str, body: dict[str, Any]) -> Response:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        message["content"] = body.get("content", message["content"])
        message["edited_timestamp"] = datetime.now(UTC).isoformat()
        return JSONResponse(message)

    def _execute_webhook(self, webhook_id: str, token: str, rec: Recorded) -> Response:
        hook = self.webhooks.get(webhook_id)
        if hook is None:
            return _error(404, 10015, "Unknown Webhook")
        if hook[0] != token:
            return _error(401, 50027, "Invalid Webhook Token")
        body = rec.json or {}
        created = self._create(hook[1], body, author=body.get("username", "Captain Hook"))
        if created.status_code == 200 and rec.query.get("wait") != "true":
            return Response(status_code=204)
        return created

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/oauth2/token", self.oauth_token, methods=["POST"]),
                Route(
                    "/api/v10/{path:path}",
                    self.dispatch,
                    methods=["GET", "POST", "PATCH", "DELETE"],
                ),
            ]
        )


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)
