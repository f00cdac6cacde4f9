"""Google Calendar connector: list, create and delete events; ask for free/busy time.

Speaks the Google Calendar API v3 (https://developers.google.com/calendar/api/v3/reference):
``events.list`` (``GET /calendars/{calendarId}/events``), ``events.insert``
(``POST …/events``), ``events.delete`` (``DELETE …/events/{eventId}``),
``freebusy.query`` (``POST /freeBusy``) and, to test a credential, ``calendars.get``
— over httpx against ``ctx.base_urls["google_calendar"]``. Auth: a Google OAuth
access token, refreshed when needed, exactly as Gmail's (``connectors.google_api``);
a sandbox connection talks to ``google_sandbox`` instead.

Retries are safe: ``create_event`` sends an event id derived from the activity's
idempotency key (Google lets a client choose an event's id), so a retried insert
meets 409 ``duplicate`` and returns the event the first attempt made; deleting an
event that is already deleted (410) counts as done.
"""

from __future__ import annotations

import base64
import hashlib
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors import google_api
from connectors.base import Action, ActionContext, Connector
from connectors.fields import AddressList, StrList

DEFAULT_BASE_URL = "https://www.googleapis.com/calendar/v3"
EVENT_ID = r"^[a-v0-9]{5,1024}$"  # base32hex, as Google requires of event ids

SendUpdates = Literal["all", "externalOnly", "none"]


def _calendar(calendar_id: str) -> str:
    return "/calendars/" + quote(calendar_id, safe="")


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class EventTime(BaseModel):
    """Google's ``EventDateTime``: ``date`` for all-day events, else ``date_time``."""

    date: str | None = None
    date_time: str | None = None
    time_zone: str | None = None


class Event(BaseModel):
    id: str
    status: str | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    start: EventTime | None = None
    end: EventTime | None = None
    attendees: list[str] = Field(default_factory=list)
    html_link: str | None = None
    created: str | None = None
    updated: str | None = None


def _event(body: dict[str, Any]) -> Event:
    def when(value: Any) -> EventTime | None:
        if not isinstance(value, dict):
            return None
        return EventTime(
            date=value.get("date"), date_time=value.get("dateTime"), time_zone=value.get("timeZone")
        )

    return Event(
        id=str(body["id"]),
        status=body.get("status"),
        summary=body.get("summary"),
        description=body.get("description"),
        location=body.get("location"),
        start=when(body.get("start")),
        end=when(body.get("end")),
        attendees=[a["email"] for a in body.get("attendees") or [] if a.get("email")],
        html_link=body.get("htmlLink"),
        created=body.get("created"),
        updated=body.get("updated"),
    )


class ListEventsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendar_id: str = Field(default="primary", min_length=1, max_length=500)
    time_min: AwareDatetime | None = Field(default=None, description="Events ending after this")
    time_max: AwareDatetime | None = Field(default=None, description="Events starting before this")
    q: str | None = Field(default=None, max_length=500, description="Free-text search")
    max_results: int = Field(default=250, ge=1, le=2500)
    page_token: str | None = None
    single_events: bool = Field(default=True, description="Expand recurring events")
    order_by: Literal["startTime", "updated"] | None = None


class ListEventsOutput(BaseModel):
    events: list[Event] = Field(default_factory=list)
    next_page_token: str | None = None
    time_zone: str | None = None
    refreshed_credentials: dict[str, Any] | None = None


def _parse_time(value: str) -> date | datetime:
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 date-time or a YYYY-MM-DD date: {value!r}") from exc


class CreateEventInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendar_id: str = Field(default="primary", min_length=1, max_length=500)
    summary: str = Field(min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=8000)
    location: str | None = Field(default=None, max_length=1024)
    start: str = Field(description="RFC 3339 date-time, or YYYY-MM-DD for an all-day event")
    end: str = Field(description="Same form as start; after it (exclusive for all-day events)")
    time_zone: str | None = Field(
        default=None, description="IANA zone, e.g. Europe/Paris; needed for times without offset"
    )
    attendees: AddressList = Field(default_factory=list)
    send_updates: SendUpdates = "none"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _times(self) -> CreateEventInput:
        start, end = _parse_time(self.start), _parse_time(self.end)
        if isinstance(start, datetime) != isinstance(end, datetime):
            raise ValueError("start and end must both be dates or both be date-times")
        if isinstance(start, datetime) and isinstance(end, datetime):
            if (start.tzinfo is None or end.tzinfo is None) and self.time_zone is None:
                raise ValueError("give time_zone, or times with a UTC offset")
            zone = ZoneInfo(self.time_zone) if self.time_zone else None
            start = start if start.tzinfo else start.replace(tzinfo=zone)
            end = end if end.tzinfo else end.replace(tzinfo=zone)
        if end <= start:  # type: ignore[operator]  # both dates or both aware date-times
            raise ValueError("end must be after start")
        return self

    def body(self, event_id: str | None) -> dict[str, Any]:
        def when(value: str) -> dict[str, str]:
            if len(value) == 10:
                return {"date": value}
            return {"dateTime": value, **({"timeZone": self.time_zone} if self.time_zone else {})}

        body: dict[str, Any] = {
            "summary": self.summary,
            "start": when(self.start),
            "end": when(self.end),
        }
        if event_id:
            body["id"] = event_id
        if self.description is not None:
            body["description"] = self.description
        if self.location is not None:
            body["location"] = self.location
        if self.attendees:
            body["attendees"] = [{"email": a} for a in self.attendees]
        return body


class EventOutput(Event):
    refreshed_credentials: dict[str, Any] | None = None


class DeleteEventInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendar_id: str = Field(default="primary", min_length=1, max_length=500)
    event_id: str = Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z0-9_@.-]+$")
    send_updates: SendUpdates = "none"


class DeleteEventOutput(BaseModel):
    event_id: str
    deleted: bool = True
    already_deleted: bool = Field(default=False, description="It was deleted before (a retry)")
    refreshed_credentials: dict[str, Any] | None = None


class FreeBusyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_min: AwareDatetime
    time_max: AwareDatetime
    calendars: StrList = Field(default_factory=lambda: ["primary"], min_length=1, max_length=50)
    time_zone: str | None = None

    @model_validator(mode="after")
    def _window(self) -> FreeBusyInput:
        if self.time_max <= self.time_min:
            raise ValueError("time_max must be after time_min")
        return self


class BusyPeriod(BaseModel):
    start: str
    end: str


class CalendarBusy(BaseModel):
    busy: list[BusyPeriod] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="Google's reasons, e.g. notFound")


class FreeBusyOutput(BaseModel):
    time_min: str
    time_max: str
    calendars: dict[str, CalendarBusy]
    refreshed_credentials: dict[str, Any] | None = None


def event_id_for(idempotency_key: str) -> str:
    """A valid Google event id (base32hex, lower case) that is the same on every retry."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()[:20]
    return base64.b32hexencode(digest).decode().lower().rstrip("=")


def _session(ctx: ActionContext) -> AbstractAsyncContextManager[google_api.GoogleSession]:
    return google_api.session(
        ctx, base_key="google_calendar", default_base=DEFAULT_BASE_URL, service="Google Calendar"
    )


async def list_events(ctx: ActionContext, data: ListEventsInput) -> ListEventsOutput:
    """One page of events (``events.list``), by start time unless told otherwise."""
    params: dict[str, str | int] = {
        "maxResults": data.max_results,
        "singleEvents": "true" if data.single_events else "false",
    }
    order_by = data.order_by or ("startTime" if data.single_events else None)
    if order_by:
        params["orderBy"] = order_by
    if data.time_min:
        params["timeMin"] = _rfc3339(data.time_min)
    if data.time_max:
        params["timeMax"] = _rfc3339(data.time_max)
    if data.q:
        params["q"] = data.q
    if data.page_token:
        params["pageToken"] = data.page_token
    async with _session(ctx) as session:
        body = await session.call("GET", _calendar(data.calendar_id) + "/events", params=params)
    return ListEventsOutput(
        events=[_event(item) for item in body.get("items") or []],
        next_page_token=body.get("nextPageToken"),
        time_zone=body.get("timeZone"),
        refreshed_credentials=session.refreshed,
    )


async def create_event(ctx: ActionContext, data: CreateEventInput) -> EventOutput:
    """Insert an event (``events.insert``); a retry returns the event already made."""
    event_id = event_id_for(ctx.idempotency_key) if ctx.idempotency_key else None
    path = _calendar(data.calendar_id) + "/events"
    async with _session(ctx) as session:
        response = await session.request(
            "POST", path, params={"sendUpdates": data.send_updates}, json=data.body(event_id)
        )
        if response.status_code == 409 and event_id:  # made by an earlier attempt
            body = await session.call("GET", f"{path}/{event_id}")
        else:
            body = session.body(response)
    return EventOutput(**_event(body).model_dump(), refreshed_credentials=session.refreshed)


async def delete_event(ctx: ActionContext, data: DeleteEventInput) -> DeleteEventOutput:
    """Delete an event (``events.delete``); one already deleted (410 Gone) counts as done."""
    path = f"{_calendar(data.calendar_id)}/events/{quote(data.event_id, safe='')}"
    async with _session(ctx) as session:
        response = await session.request("DELETE", path, params={"sendUpdates": data.send_updates})
        gone = response.status_code == 410
        if not gone:
            session.body(response)
    return DeleteEventOutput(
        event_id=data.event_id, already_deleted=gone, refreshed_credentials=session.refreshed
    )


async def free_busy(ctx: ActionContext, data: FreeBusyInput) -> FreeBusyOutput:
    """Busy periods of each calendar in the window (``freebusy.query``)."""
    request: dict[str, Any] = {
        "timeMin": _rfc3339(data.time_min),
        "timeMax": _rfc3339(data.time_max),
        "items": [{"id": c} for c in data.calendars],
    }
    if data.time_zone:
        request["timeZone"] = data.time_zone
    async with _session(ctx) as session:
        body = await session.call("POST", "/freeBusy", json=request)
    calendars = {
        name: CalendarBusy(
            busy=[BusyPeriod(start=b["start"], end=b["end"]) for b in found.get("busy") or []],
            errors=[e.get("reason", "unknown") for e in found.get("errors") or []],
        )
        for name, found in (body.get("calendars") or {}).items()
    }
    return FreeBusyOutput(
        time_min=body.get("timeMin", request["timeMin"]),
        time_max=body.get("timeMax", request["timeMax"]),
        calendars=calendars,
        refreshed_credentials=session.refreshed,
    )


async def test(ctx: ActionContext) -> dict[str, Any]:
    """``calendars.get`` of ``primary``: the account's calendar the token reaches."""
    async with _session(ctx) as session:
        body = await session.call("GET", _calendar("primary"))
    return {
        "calendar_id": body.get("id"),
        "time_zone": body.get("timeZone"),
        "refreshed_credentials": session.refreshed,
    }


CONNECTOR = Connector(
    type="google-calendar",
    name="Google Calendar",
    description="Find, create and delete events in a Google Calendar; check free/busy time",
    categories=("calendar", "scheduling", "productivity", "google"),
    credential_type="oauth2",
    credential_fields=google_api.CREDENTIAL_FIELDS,
    actions={
        "list_events": Action(
            name="list_events",
            description="List events of a calendar, optionally in a time window or by text",
            input_model=ListEventsInput,
            output_model=ListEventsOutput,
            handler=list_events,
            side_effecting=False,
        ),
        "create_event": Action(
            name="create_event",
            description="Create an event (optionally inviting attendees)",
            input_model=CreateEventInput,
            output_model=EventOutput,
            handler=create_event,
        ),
        "delete_event": Action(
            name="delete_event",
            description="Delete an event",
            input_model=DeleteEventInput,
            output_model=DeleteEventOutput,
            handler=delete_event,
        ),
        "free_busy": Action(
            name="free_busy",
            description="Busy periods of one or more calendars in a time window",
            input_model=FreeBusyInput,
            output_model=FreeBusyOutput,
            handler=free_busy,
            side_effecting=False,
        ),
    },
    test=test,
)
