"""The sandbox Google Calendar (API v3): one calendar per connection, kept in its store.

``google_sandbox`` routes Calendar requests here. The account has one calendar,
``primary`` (also reachable by the account's address); other calendar ids are
404 ``notFound`` (in ``freeBusy``, an ``errors`` entry), as Google answers for a
calendar the account cannot see. Events are ``calendar.event`` items; deleting
one marks it ``cancelled`` as Google does, so a second delete is 410.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from connectors.base import SandboxItem, SandboxStore

EVENT = "calendar.event"
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
DEFAULT_PAGE = 250


def google_error(status: int, reason: str, message: str, google_status: str) -> httpx.Response:
    """An error in Google's JSON shape (shared with the sandbox Gmail)."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": google_status,
        }
    }
    return httpx.Response(status, json=body)


def _not_found() -> httpx.Response:
    return google_error(404, "notFound", "Not Found", "NOT_FOUND")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _instant(value: Any) -> datetime | None:
    """An ``EventDateTime`` (or an RFC 3339 string) as an aware datetime; None if unreadable."""
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if not isinstance(value, dict):
            return None
        if value.get("date"):
            return datetime.combine(date.fromisoformat(value["date"]), time(), UTC)
        moment = datetime.fromisoformat(str(value.get("dateTime")))
        if moment.tzinfo is None:
            zone = ZoneInfo(value["timeZone"]) if value.get("timeZone") else UTC
            moment = moment.replace(tzinfo=zone)
        return moment
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SandboxCalendar:
    def __init__(self, store: SandboxStore, account: str) -> None:
        self.store = store
        self.account = account

    def _own(self, calendar: str) -> bool:
        return calendar in ("primary", self.account)

    def calendar(self, calendar: str) -> httpx.Response:
        """``calendars.get``."""
        if not self._own(calendar):
            return _not_found()
        return httpx.Response(
            200,
            json={
                "kind": "calendar#calendar",
                "id": self.account,
                "summary": self.account,
                "timeZone": "UTC",
            },
        )

    async def events(
        self,
        method: str,
        calendar: str,
        event_id: str | None,
        request: httpx.Request,
        query: dict[str, str],
    ) -> httpx.Response:
        if not self._own(calendar):
            return _not_found()
        if event_id is None and method == "GET":
            return await self._list(query)
        if event_id is None and method == "POST":
            try:
                body = json.loads(request.content or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return google_error(400, "parseError", "Parse Error", "INVALID_ARGUMENT")
            return await self._insert(body)
        if event_id is not None:
            item = await self.store.get(EVENT, event_id)
            if item is None:
                return _not_found()
            if method == "GET":
                return httpx.Response(200, json=item.data)
            if method == "DELETE":
                return await self._delete(item)
        return _not_found()

    async def _insert(self, body: dict[str, Any]) -> httpx.Response:
        start, end = _instant(body.get("start")), _instant(body.get("end"))
        if start is None or end is None:
            return google_error(400, "required", "Missing start or end time.", "INVALID_ARGUMENT")
        if end <= start:
            return google_error(
                400, "timeRangeEmpty", "The specified time range is empty.", "INVALID_ARGUMENT"
            )
        event_id = str(body.get("id") or "")
        if event_id:
            if not EVENT_ID.match(event_id):
                return google_error(
                    400, "invalid", "Invalid resource id value.", "INVALID_ARGUMENT"
                )
            if await self.store.get(EVENT, event_id) is not None:
                return google_error(
                    409, "duplicate", "The requested identifier already exists.", "ALREADY_EXISTS"
                )
        else:
            event_id = base64.b32hexencode(secrets.token_bytes(15)).decode().lower()
        now = _now()
        owner = {"email": self.account, "self": True}
        event = {
            "kind": "calendar#event",
            "etag": f'"{secrets.randbelow(10**16)}"',
            "id": event_id,
            "status": "confirmed",
            "created": now,
            "updated": now,
            "summary": body.get("summary"),
            "description": body.get("description"),
            "location": body.get("location"),
            "creator": owner,
            "organizer": owner,
            "start": body["start"],
            "end": body["end"],
            "iCalUID": f"{event_id}@sandbox.taskyard.invalid",
            "sequence": 0,
            "attendees": [
                {"email": a.get("email"), "responseStatus": "needsAction"}
                for a in body.get("attendees") or []
                if isinstance(a, dict) and a.get("email")
            ],
            "transparency": body.get("transparency", "opaque"),
            "eventType": "default",
        }
        event = {k: v for k, v in event.items() if v not in (None, [])}
        await self.store.add(EVENT, event_id, event)
        return httpx.Response(200, json=event)

    async def _delete(self, item: SandboxItem) -> httpx.Response:
        if item.data.get("status") == "cancelled":
            return google_error(410, "deleted", "Resource has been deleted", "GONE")
        await self.store.put(
            EVENT, item.remote_id, {**item.data, "status": "cancelled", "updated": _now()}
        )
        return httpx.Response(204)

    async def _live(self) -> list[dict[str, Any]]:
        return [
            i.data for i in await self.store.items(EVENT) if i.data.get("status") != "cancelled"
        ]

    async def _list(self, query: dict[str, str]) -> httpx.Response:
        low, high = _instant(query.get("timeMin")), _instant(query.get("timeMax"))
        events = await self._live()
        if low is not None:
            events = [e for e in events if (_instant(e["end"]) or low) > low]
        if high is not None:
            events = [e for e in events if (_instant(e["start"]) or high) < high]
        if q := query.get("q", "").lower():
            events = [
                e
                for e in events
                if q
                in " ".join(
                    str(e.get(k) or "") for k in ("summary", "description", "location")
                ).lower()
            ]
        if query.get("orderBy") == "updated":
            events.sort(key=lambda e: str(e.get("updated")))
        else:
            events.sort(key=lambda e: _instant(e["start"]) or datetime.min.replace(tzinfo=UTC))
        start = int(query.get("pageToken") or 0)
        size = int(query.get("maxResults") or DEFAULT_PAGE)
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "summary": self.account,
            "updated": _now(),
            "timeZone": "UTC",
            "accessRole": "owner",
            "items": events[start : start + size],
        }
        if start + size < len(events):
            body["nextPageToken"] = str(start + size)
        return httpx.Response(200, json=body)

    async def free_busy(self, body: dict[str, Any]) -> httpx.Response:
        """``freebusy.query``: opaque events overlapping the window, clipped to it."""
        low, high = _instant(body.get("timeMin")), _instant(body.get("timeMax"))
        if low is None or high is None:
            return google_error(400, "required", "Missing timeMin or timeMax.", "INVALID_ARGUMENT")
        busy: list[dict[str, str]] = []
        for event in await self._live():
            start, end = _instant(event["start"]), _instant(event["end"])
            if start is None or end is None or event.get("transparency") == "transparent":
                continue
            if end > low and start < high:
                busy.append({"start": _rfc3339(max(start, low)), "end": _rfc3339(min(end, high))})
        busy.sort(key=lambda b: b["start"])
        calendars: dict[str, Any] = {}
        for item in body.get("items") or []:
            name = str(item.get("id", "")) if isinstance(item, dict) else ""
            if self._own(name):
                calendars[name] = {"busy": busy}
            else:
                calendars[name] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
        return httpx.Response(
            200,
            json={
                "kind": "calendar#freeBusy",
                "timeMin": _rfc3339(low),
                "timeMax": _rfc3339(high),
                "calendars": calendars,
            },
        )
