"""The sandbox Google: Gmail API v1, Calendar API v3 and the token endpoint, answered locally.

Sandbox connections (made without the operator's Google OAuth client) send their
requests here through an httpx transport instead of to Google. The connectors
run unchanged — same URLs, same JSON, same raw RFC 2822 messages — and this
module answers as Google documents its APIs, keeping what it was sent in the
connection's ``SandboxStore``:

* ``gmail.message``: every ``messages.send`` — the outbox. Nothing is delivered;
  ``messages.list``/``get`` read the outbox back (labelled ``SENT``).
* ``calendar.event``: events of the account's one calendar (``primary``);
  ``events.insert`` honours a client-chosen ``id`` (409 ``duplicate`` when taken),
  ``events.delete`` cancels (410 once deleted), ``freeBusy`` reads them back.

Only access tokens the sandbox issued are accepted (401 otherwise), and the token
endpoint refreshes only sandbox refresh tokens.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import json
import re
import secrets
import time
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from connectors import oauth_sandbox
from connectors.base import SandboxItem, SandboxStore
from connectors.google_calendar_sandbox import SandboxCalendar
from connectors.google_calendar_sandbox import google_error as error
from connectors.oauth import PROVIDERS

ACCOUNT = "me@sandbox.taskyard.invalid"
GMAIL = re.compile(r"/gmail/v1/users/me/(?P<rest>.*)$")
CALENDAR = re.compile(r"/calendars/(?P<calendar>[^/]+)/?$")
EVENTS = re.compile(r"/calendars/(?P<calendar>[^/]+)/events(?:/(?P<event>[^/]+))?/?$")
FREEBUSY = re.compile(r"/freeBusy/?$")
MESSAGE = "gmail.message"


def not_found() -> httpx.Response:
    return error(404, "notFound", "Requested entity was not found.", "NOT_FOUND")


def bad_request(message: str, reason: str = "invalid") -> httpx.Response:
    return error(400, reason, message, "INVALID_ARGUMENT")


def transport(store: SandboxStore) -> httpx.AsyncBaseTransport:
    """Route a connector's httpx client to the sandbox Google of one connection."""
    return httpx.MockTransport(SandboxGoogle(store).handle)


class SandboxGoogle:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.calendar = SandboxCalendar(store, ACCOUNT)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        content_type = request.headers.get("content-type", "")
        # The token endpoint is the one form-encoded POST (its URL is a setting).
        if request.method == "POST" and content_type.startswith("application/x-www-form"):
            return self._token(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token.startswith(oauth_sandbox.GOOGLE_ACCESS_PREFIX):
            return error(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "UNAUTHENTICATED",
            )
        query = dict(request.url.params)
        if match := GMAIL.search(path):
            return await self._gmail(request.method, match["rest"], request, query)
        if match := EVENTS.search(path):
            calendar = unquote(match["calendar"])
            event = unquote(match["event"]) if match["event"] else None
            return await self.calendar.events(request.method, calendar, event, request, query)
        if (match := CALENDAR.search(path)) and request.method == "GET":
            return self.calendar.calendar(unquote(match["calendar"]))
        if FREEBUSY.search(path) and request.method == "POST":
            return await self.calendar.free_busy(_json(request))
        return not_found()

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if form.get("client_id") != oauth_sandbox.CLIENT_ID:
            return httpx.Response(401, json={"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token":
            return httpx.Response(400, json={"error": "unsupported_grant_type"})
        body = oauth_sandbox.refresh_answer(PROVIDERS["gmail"], form.get("refresh_token", ""))
        if body is None:
            return httpx.Response(
                400,
                json={"error": "invalid_grant", "error_description": "Token has been revoked."},
            )
        return httpx.Response(200, json=body)

    async def _gmail(
        self, method: str, rest: str, request: httpx.Request, query: dict[str, str]
    ) -> httpx.Response:
        if rest == "profile" and method == "GET":
            total = len(await self.store.items(MESSAGE))
            return httpx.Response(
                200,
                json={
                    "emailAddress": ACCOUNT,
                    "messagesTotal": total,
                    "threadsTotal": total,
                    "historyId": "1",
                },
            )
        if rest == "messages/send" and method == "POST":
            return await self._send(_json(request))
        if rest == "messages" and method == "GET":
            return await self._list(query)
        if rest.startswith("messages/") and method == "GET":
            item = await self.store.get(MESSAGE, rest.removeprefix("messages/"))
            return _message(item, query.get("format", "full")) if item else not_found()
        return not_found()

    async def _send(self, body: dict[str, Any]) -> httpx.Response:
        raw_text = str(body.get("raw") or "")
        try:
            raw = base64.urlsafe_b64decode(raw_text + "=" * (-len(raw_text) % 4))
        except (binascii.Error, ValueError):
            return bad_request("Invalid value for ByteString", "invalidArgument")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        to = _addresses(parsed, "To")
        if not to:
            return bad_request("Recipient address required", "invalidArgument")
        message_id = secrets.token_hex(8)
        text = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        data = {
            "id": message_id,
            "threadId": message_id,
            "labelIds": ["SENT"],
            "from": ACCOUNT,
            "to": to,
            "cc": _addresses(parsed, "Cc"),
            "bcc": _addresses(parsed, "Bcc"),
            "subject": str(parsed["Subject"] or ""),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "attachments": [
                {
                    "filename": part.get_filename(),
                    "mimeType": part.get_content_type(),
                    "size": len(part.get_payload(decode=True) or b""),
                }
                for part in parsed.iter_attachments()
            ],
            "internalDate": str(int(time.time() * 1000)),
            "raw": base64.urlsafe_b64encode(raw).decode(),
        }
        await self.store.add(MESSAGE, message_id, data)
        return httpx.Response(
            200, json={"id": message_id, "threadId": message_id, "labelIds": ["SENT"]}
        )

    async def _list(self, query: dict[str, str]) -> httpx.Response:
        items = sorted(await self.store.items(MESSAGE), key=lambda i: -i.created_at)
        if q := query.get("q", ""):
            items = [i for i in items if _matches(i.data, q)]
        start = int(query.get("pageToken") or 0)
        size = int(query.get("maxResults") or 100)
        page = items[start : start + size]
        body: dict[str, Any] = {"resultSizeEstimate": len(items)}
        if page:
            body["messages"] = [{"id": i.remote_id, "threadId": i.remote_id} for i in page]
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return httpx.Response(200, json=body)


def _json(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(v) for v in message.get_all(header, [])]
    return [address for _name, address in email.utils.getaddresses(values) if address]


def _matches(data: dict[str, Any], q: str) -> bool:
    """A small part of Gmail search: ``from:``, ``to:``, ``subject:`` and bare words, ANDed."""
    fields = {
        "from": str(data.get("from", "")),
        "to": " ".join(data.get("to", [])),
        "subject": str(data.get("subject", "")),
    }
    everything = " ".join([*fields.values(), str(data.get("text") or "")]).lower()
    for term in q.lower().split():
        name, _, value = term.rpartition(":")
        if name in fields:
            if value not in fields[name].lower():
                return False
        elif term not in everything:
            return False
    return True


def _message(item: SandboxItem, fmt: str) -> httpx.Response:
    data = item.data
    raw = base64.urlsafe_b64decode(data["raw"] + "=" * (-len(data["raw"]) % 4))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body: dict[str, Any] = {
        "id": item.remote_id,
        "threadId": data.get("threadId", item.remote_id),
        "labelIds": data.get("labelIds", ["SENT"]),
        "snippet": (data.get("text") or data.get("html") or "")[:100].strip(),
        "sizeEstimate": len(raw),
        "internalDate": data.get("internalDate"),
        "historyId": "1",
    }
    if fmt == "raw":
        body["raw"] = data["raw"]
    elif fmt in ("full", "metadata"):
        headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
        payload: dict[str, Any] = {"mimeType": parsed.get_content_type(), "headers": headers}
        if fmt == "full":
            payload["body"] = {"size": len(raw)}
        body["payload"] = payload
    return httpx.Response(200, json=body)
