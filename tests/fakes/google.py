"""A Gmail API v1, Google Calendar API v3 and Google OAuth 2.0 token endpoint stand-in.

Wire format as documented at https://developers.google.com/gmail/api/reference/rest,
https://developers.google.com/calendar/api/v3/reference (``events.list/insert/get/
delete``, ``freebusy.query``, ``calendars.get`` under ``/calendar/v3``) and
https://developers.google.com/identity/protocols/oauth2/web-server#offline:
``Authorization: Bearer <access token>``; JSON resources in camelCase; errors as
``{"error": {"code", "message", "errors": [{"reason", ...}], "status"}}``; the
token endpoint takes a form-encoded ``grant_type=refresh_token`` and answers
``{"access_token", "expires_in", ...}`` or ``{"error": "invalid_grant", ...}``.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

CLIENT_ID = "1234-taskyard.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-taskyard-test-secret"
REFRESH_TOKEN = "1//0taskyard-refresh"
ACCESS_TOKEN = "ya29.taskyard-access-0"
ACCOUNT = "me@taskyard.test"

_ERRORS: dict[str, tuple[int, str, str, str]] = {
    # kind: (HTTP status, status, reason, message), as Google sends them
    "unauthorized": (
        401,
        "UNAUTHENTICATED",
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
    ),
    "forbidden": (
        403,
        "PERMISSION_DENIED",
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
    ),
    "rate_limited": (
        429,
        "RESOURCE_EXHAUSTED",
        "rateLimitExceeded",
        "Too many concurrent requests for user.",
    ),
    "user_rate_limited": (
        403,
        "PERMISSION_DENIED",
        "userRateLimitExceeded",
        "User-rate limit exceeded.",
    ),
    "not_found": (404, "NOT_FOUND", "notFound", "Requested entity was not found."),
    "bad_request": (400, "INVALID_ARGUMENT", "invalidArgument", "Invalid To header"),
    "server_error": (503, "UNAVAILABLE", "backendError", "The service is currently unavailable."),
}


def google_error(kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    status, google_status, reason, message = _ERRORS[kind]
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": google_status,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class FakeGoogle:
    """One Gmail mailbox and its OAuth client; ``fail_next`` queues Gmail answers."""

    base_url: str = ""
    access_tokens: set[str] = field(default_factory=lambda: {ACCESS_TOKEN})
    refresh_tokens: set[str] = field(default_factory=lambda: {REFRESH_TOKEN})
    rotate_refresh_token: bool = False
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # the primary calendar's
    requests: list[Recorded] = field(default_factory=list)
    queued: list[Response] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    def reset(self) -> None:
        self.access_tokens = {ACCESS_TOKEN}
        self.refresh_tokens = {REFRESH_TOKEN}
        self.rotate_refresh_token = False
        self.messages.clear()
        self.events.clear()
        self.requests.clear()
        self.queued.clear()

    def fail_next(self, kind: str, *, retry_after: int | None = None) -> None:
        """Answer the next Gmail request like Google does; kinds are the keys of ``_ERRORS``."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        if kind == "unauthorized":
            headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        self.queued.append(google_error(kind, headers))

    def deliver(self, message: EmailMessage, labels: list[str] | None = None) -> str:
        """Put a message in the mailbox as if it had arrived."""
        message_id = f"18c{next(self._ids):013x}"
        self.messages[message_id] = {
            "raw": message.as_bytes(),
            "threadId": message_id,
            "labelIds": labels or ["INBOX", "UNREAD"],
            "internalDate": "1700000000000",
        }
        return message_id

    def token_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/token"]

    def gmail_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/gmail/")]

    def calendar_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/calendar/")]

    async def token(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        form = rec.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                status_code=401,
            )
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("refresh_token") not in self.refresh_tokens:
            return JSONResponse(
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
                status_code=400,
            )
        access = f"ya29.taskyard-access-{next(self._ids)}"
        self.access_tokens.add(access)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/gmail.modify",
            "token_type": "Bearer",
        }
        if self.rotate_refresh_token:
            body["refresh_token"] = f"1//0taskyard-refresh-{next(self._ids)}"
            self.refresh_tokens = {body["refresh_token"]}
        return JSONResponse(body)

    async def gmail(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        if self.queued:
            return self.queued.pop(0)
        token = rec.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return google_error("unauthorized")
        rest = request.path_params["rest"]
        if rest == "profile" and rec.method == "GET":
            return JSONResponse(
                {"emailAddress": ACCOUNT, "messagesTotal": len(self.messages), "historyId": "1"}
            )
        if rest == "messages/send" and rec.method == "POST":
            return self._send(rec.json or {})
        if rest == "messages" and rec.method == "GET":
            return self._list(rec.query)
        if rest.startswith("messages/") and rec.method == "GET":
            return self._get(rest.removeprefix("messages/"), rec.query.get("format", "full"))
        return google_error("not_found")

    def _send(self, body: dict[str, Any]) -> Response:
        try:
            raw = base64.urlsafe_b64decode(body["raw"])
        except (KeyError, ValueError):
            return google_error("bad_request")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if not message["To"]:
            return google_error("bad_request")
        assert isinstance(message, EmailMessage)
        message_id = self.deliver(message, labels=["SENT"])
        stored = self.messages[message_id]
        return JSONResponse(
            {"id": message_id, "threadId": stored["threadId"], "labelIds": stored["labelIds"]}
        )

    def _list(self, query: dict[str, str]) -> Response:
        ids = list(self.messages)
        q = query.get("q", "")
        if q:
            ids = [i for i in ids if _matches(self._parsed(i), q)]
        start = int(query.get("pageToken", "0"))
        size = int(query.get("maxResults", "100"))
        page = ids[start : start + size]
        body: dict[str, Any] = {"resultSizeEstimate": len(ids)}
        if page:
            body["messages"] = [{"id": i, "threadId": self.messages[i]["threadId"]} for i in page]
        if start + size < len(ids):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    def _parsed(self, message_id: str) -> EmailMessage:
        parsed = email.message_from_bytes(
            self.messages[message_id]["raw"], policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        return parsed

    def _get(self, message_id: str, fmt: str) -> Response:
        stored = self.messages.get(message_id)
        if stored is None:
            return google_error("not_found")
        parsed = self._parsed(message_id)
        body: dict[str, Any] = {
            "id": message_id,
            "threadId": stored["threadId"],
            "labelIds": stored["labelIds"],
            "snippet": (parsed.get_body(("plain", "html")) or parsed).get_content()[:100].strip()
            if fmt != "raw"
            else "",
            "sizeEstimate": len(stored["raw"]),
            "internalDate": stored["internalDate"],
            "historyId": "1",
        }
        if fmt == "raw":
            body["raw"] = base64.urlsafe_b64encode(stored["raw"]).decode()
        elif fmt in ("full", "metadata"):
            body["payload"] = _payload(parsed, with_body=fmt == "full")
        return JSONResponse(body)

    async def calendar(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        if self.queued:
            return self.queued.pop(0)
        token = rec.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return google_error("unauthorized")
        parts = request.path_params["rest"].split("/")
        if parts == ["freeBusy"] and rec.method == "POST":
            return self._free_busy(rec.json or {})
        if len(parts) < 2 or parts[0] != "calendars" or parts[1] not in ("primary", ACCOUNT):
            return google_error("not_found")
        if len(parts) == 2 and rec.method == "GET":
            return JSONResponse({"kind": "calendar#calendar", "id": ACCOUNT, "timeZone": "UTC"})
        if parts[2:] == ["events"] and rec.method == "POST":
            return self._insert(rec.json or {})
        if parts[2:] == ["events"] and rec.method == "GET":
            return self._events(rec.query)
        if len(parts) == 4 and parts[2] == "events":
            event = self.events.get(parts[3])
            if event is None:
                return google_error("not_found")
            if rec.method == "GET":
                return JSONResponse(event)
            if rec.method == "DELETE":
                if event["status"] == "cancelled":
                    return _calendar_error(410, "deleted", "Resource has been deleted")
                event["status"] = "cancelled"
                return Response(status_code=204)
        return google_error("not_found")

    def _insert(self, body: dict[str, Any]) -> Response:
        start, end = _when(body.get("start")), _when(body.get("end"))
        if start is None or end is None:
            return _calendar_error(400, "required", "Missing end time.")
        if end <= start:
            return _calendar_error(400, "timeRangeEmpty", "The specified time range is empty.")
        event_id = body.get("id") or f"fake{next(self._ids):08d}"
        if event_id in self.events:
            return _calendar_error(409, "duplicate", "The requested identifier already exists.")
        event = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": "2026-01-01T00:00:00.000Z",
            "updated": "2026-01-01T00:00:00.000Z",
            "organizer": {"email": ACCOUNT, "self": True},
            **{k: body[k] for k in ("summary", "description", "location") if k in body},
            "start": body["start"],
            "end": body["end"],
            "attendees": [
                {"email": a["email"], "responseStatus": "needsAction"}
                for a in body.get("attendees", [])
            ],
        }
        self.events[event_id] = event
        return JSONResponse(event)

    def _live(self) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["status"] != "cancelled"]

    def _events(self, query: dict[str, str]) -> Response:
        low, high = _when(query.get("timeMin")), _when(query.get("timeMax"))
        items = [
            e
            for e in self._live()
            if (low is None or _when(e["end"]) > low) and (high is None or _when(e["start"]) < high)  # type: ignore[operator]
        ]
        if q := query.get("q", "").lower():
            items = [e for e in items if q in str(e.get("summary", "")).lower()]
        items.sort(key=lambda e: _when(e["start"]))  # type: ignore[arg-type,return-value]
        size = int(query.get("maxResults", "250"))
        start = int(query.get("pageToken", "0"))
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "timeZone": "UTC",
            "items": items[start : start + size],
        }
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    def _free_busy(self, body: dict[str, Any]) -> Response:
        low, high = _when(body.get("timeMin")), _when(body.get("timeMax"))
        assert low is not None and high is not None
        busy = [
            {"start": e["start"]["dateTime"], "end": e["end"]["dateTime"]}
            for e in self._live()
            if "dateTime" in e["start"] and _when(e["end"]) > low and _when(e["start"]) < high  # type: ignore[operator]
        ]
        calendars: dict[str, Any] = {}
        for item in body.get("items", []):
            if item["id"] in ("primary", ACCOUNT):
                calendars[item["id"]] = {"busy": busy}
            else:
                calendars[item["id"]] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
        return JSONResponse(
            {
                "kind": "calendar#freeBusy",
                "timeMin": body["timeMin"],
                "timeMax": body["timeMax"],
                "calendars": calendars,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/gmail/v1/users/me/{rest:path}", self.gmail, methods=["GET", "POST"]),
                Route(
                    "/calendar/v3/{rest:path}",
                    self.calendar,
                    methods=["GET", "POST", "DELETE"],
                ),
            ]
        )


def _calendar_error(status: int, reason: str, message: str) -> JSONResponse:
    google_status = {400: "INVALID_ARGUMENT", 409: "ALREADY_EXISTS", 410: "GONE"}[status]
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "calendar", "reason": reason}],
            "status": google_status,
        }
    }
    return JSONResponse(body, status_code=status)


def _when(value: Any) -> datetime | None:
    """An ``EventDateTime`` or RFC 3339 string as an aware datetime."""
    if isinstance(value, dict):
        value = value.get("dateTime") or (value.get("date") and value["date"] + "T00:00:00Z")
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matches(message: EmailMessage, q: str) -> bool:
    """A small part of Gmail search: ``from:``, ``to:``, ``subject:`` and bare words, ANDed."""
    for term in q.lower().split():
        field_name, _, value = term.rpartition(":")
        if field_name in ("from", "to", "subject"):
            if value not in str(message[field_name] or "").lower():
                return False
        elif term not in message.as_string().lower():
            return False
    return True


def _payload(part: MIMEPart, *, with_body: bool, part_id: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": k, "value": str(v)} for k, v in part.items()],
    }
    if part.is_multipart():
        out["body"] = {"size": 0}
        if with_body:
            out["parts"] = [
                _payload(sub, with_body=True, part_id=f"{part_id}.{n}".lstrip("."))
                for n, sub in enumerate(part.iter_parts())  # type: ignore[arg-type]
            ]
    elif with_body:
        data = part.get_payload(decode=True) or b""
        assert isinstance(data, bytes)
        out["body"] = {"size": len(data), "data": base64.urlsafe_b64encode(data).decode()}
    return out
