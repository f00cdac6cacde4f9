"""The Google Calendar connector against a local Calendar API v3 and Google token endpoint."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from connectors import google_calendar as gcal
from connectors.base import ActionContext
from connectors.errors import AuthError, NotFoundError, RateLimitedError, TransientError
from tests.fakes.google import (
    ACCESS_TOKEN,
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeGoogle,
)


def ctx_for(
    fake: FakeGoogle | str, key: str | None = "wf-1:1", **credentials: Any
) -> ActionContext:
    base = fake if isinstance(fake, str) else fake.base_url
    creds: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "expires_at": int(time.time()) + 3600,
        **credentials,
    }
    return ActionContext(
        credentials=creds,
        base_urls={"google_calendar": base + "/calendar/v3", "google_token": base + "/token"},
        idempotency_key=key,
        timeout_seconds=5,
    )


def meeting(**fields: Any) -> gcal.CreateEventInput:
    return gcal.CreateEventInput.model_validate(
        {
            "summary": "Standup",
            "start": "2026-05-04T09:00:00+02:00",
            "end": "2026-05-04T09:15:00+02:00",
            **fields,
        }
    )


async def test_create_event_posts_google_json(fake_google: FakeGoogle):
    out = await gcal.create_event(
        ctx_for(fake_google),
        meeting(description="Daily", location="Room 1", attendees="ada@example.test"),
    )

    [call] = fake_google.calendar_calls()
    assert (call.method, call.path) == ("POST", "/calendar/v3/calendars/primary/events")
    assert call.query == {"sendUpdates": "none"}
    assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    body = call.json
    assert body["start"] == {"dateTime": "2026-05-04T09:00:00+02:00"}
    assert body["attendees"] == [{"email": "ada@example.test"}]
    assert body["id"] == gcal.event_id_for("wf-1:1") and len(body["id"]) == 32
    assert out.id == body["id"] and out.status == "confirmed"
    assert out.attendees == ["ada@example.test"] and out.summary == "Standup"
    assert out.start is not None and out.start.date_time == "2026-05-04T09:00:00+02:00"


async def test_a_retried_create_returns_the_first_event(fake_google: FakeGoogle):
    first = await gcal.create_event(ctx_for(fake_google), meeting())
    again = await gcal.create_event(ctx_for(fake_google), meeting())

    assert again.id == first.id and len(fake_google.events) == 1
    assert [c.method for c in fake_google.calendar_calls()] == ["POST", "POST", "GET"]


async def test_all_day_events_and_time_zones(fake_google: FakeGoogle):
    day = await gcal.create_event(
        ctx_for(fake_google, key="a"), meeting(start="2026-05-05", end="2026-05-06")
    )
    zoned = await gcal.create_event(
        ctx_for(fake_google, key="b"),
        meeting(start="2026-05-05T10:00:00", end="2026-05-05T11:00:00", time_zone="Europe/Paris"),
    )
    assert day.start is not None and day.start.date == "2026-05-05"
    assert fake_google.calendar_calls()[1].json["start"] == {
        "dateTime": "2026-05-05T10:00:00",
        "timeZone": "Europe/Paris",
    }
    assert zoned.id != day.id


async def test_list_events_in_a_window(fake_google: FakeGoogle):
    for n, hour in enumerate((9, 13, 17)):
        await gcal.create_event(
            ctx_for(fake_google, key=f"k{n}"),
            meeting(
                summary=f"Meeting {n}",
                start=f"2026-05-04T{hour:02d}:00:00Z",
                end=f"2026-05-04T{hour:02d}:30:00Z",
            ),
        )

    out = await gcal.list_events(
        ctx_for(fake_google),
        gcal.ListEventsInput(
            time_min=datetime(2026, 5, 4, 10, tzinfo=UTC),
            time_max=datetime(2026, 5, 4, 23, tzinfo=UTC),
            max_results=1,
        ),
    )

    assert [e.summary for e in out.events] == ["Meeting 1"] and out.next_page_token == "1"
    call = fake_google.calendar_calls()[-1]
    assert call.query == {
        "maxResults": "1",
        "singleEvents": "true",
        "orderBy": "startTime",
        "timeMin": "2026-05-04T10:00:00Z",
        "timeMax": "2026-05-04T23:00:00Z",
    }


async def test_delete_event_twice_is_done_once(fake_google: FakeGoogle):
    event = await gcal.create_event(ctx_for(fake_google), meeting())

    first = await gcal.delete_event(ctx_for(fake_google), gcal.DeleteEventInput(event_id=event.id))
    again = await gcal.delete_event(ctx_for(fake_google), gcal.DeleteEventInput(event_id=event.id))

    assert (first.deleted, first.already_deleted) == (True, False)
    assert (again.deleted, again.already_deleted) == (True, True)
    assert fake_google.calendar_calls()[-1].method == "DELETE"
    with pytest.raises(NotFoundError):
        await gcal.delete_event(ctx_for(fake_google), gcal.DeleteEventInput(event_id="nosuch1"))


async def test_free_busy(fake_google: FakeGoogle):
    await gcal.create_event(
        ctx_for(fake_google), meeting(start="2026-05-04T09:00:00Z", end="2026-05-04T10:00:00Z")
    )

    out = await gcal.free_busy(
        ctx_for(fake_google),
        gcal.FreeBusyInput.model_validate(
            {
                "time_min": "2026-05-04T00:00:00Z",
                "time_max": "2026-05-05T00:00:00Z",
                "calendars": ["primary", "team@group.calendar.google.com"],
            }
        ),
    )

    assert out.calendars["primary"].busy == [
        gcal.BusyPeriod(start="2026-05-04T09:00:00Z", end="2026-05-04T10:00:00Z")
    ]
    assert out.calendars["team@group.calendar.google.com"].errors == ["notFound"]
    assert fake_google.calendar_calls()[-1].json["items"] == [
        {"id": "primary"},
        {"id": "team@group.calendar.google.com"},
    ]


async def test_connector_test_reads_the_primary_calendar(fake_google: FakeGoogle):
    assert gcal.CONNECTOR.test is not None
    info = await gcal.CONNECTOR.test(ctx_for(fake_google))
    assert info == {"calendar_id": ACCOUNT, "time_zone": "UTC", "refreshed_credentials": None}


async def test_expired_token_is_refreshed(fake_google: FakeGoogle):
    ctx = ctx_for(fake_google, access_token="ya29.stale", expires_at=int(time.time()) - 10)
    out = await gcal.list_events(ctx, gcal.ListEventsInput())
    assert len(fake_google.token_calls()) == 1
    assert out.refreshed_credentials is not None
    assert out.refreshed_credentials["access_token"] in fake_google.access_tokens


async def test_errors_are_typed(fake_google: FakeGoogle, closed_port_url: str):
    fake_google.fail_next("rate_limited", retry_after=7)
    with pytest.raises(RateLimitedError) as info:
        await gcal.list_events(ctx_for(fake_google), gcal.ListEventsInput())
    assert info.value.retry_after == 7
    fake_google.fail_next("forbidden")
    with pytest.raises(AuthError):
        await gcal.create_event(ctx_for(fake_google), meeting())
    with pytest.raises(NotFoundError):
        await gcal.list_events(
            ctx_for(fake_google), gcal.ListEventsInput(calendar_id="someone@else.test")
        )
    with pytest.raises(TransientError):
        await gcal.list_events(ctx_for(closed_port_url), gcal.ListEventsInput())


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (gcal.CreateEventInput, {"summary": "x", "start": "2026-05-04", "end": "2026-05-04"}),
        (
            gcal.CreateEventInput,
            {"summary": "x", "start": "2026-05-04", "end": "2026-05-05T10:00:00Z"},
        ),
        (
            gcal.CreateEventInput,
            {"summary": "x", "start": "2026-05-04T10:00:00", "end": "2026-05-04T11:00:00"},
        ),
        (
            gcal.CreateEventInput,
            {"summary": "x", "start": "tomorrow", "end": "2026-05-04T11:00:00Z"},
        ),
        (
            gcal.CreateEventInput,
            {
                "summary": "x",
                "start": "2026-05-04T10:00:00",
                "end": "2026-05-04T11:00:00",
                "time_zone": "Mars/Olympus",
            },
        ),
        (gcal.ListEventsInput, {"time_min": "2026-05-04T10:00:00"}),
        (
            gcal.FreeBusyInput,
            {"time_min": "2026-05-05T00:00:00Z", "time_max": "2026-05-04T00:00:00Z"},
        ),
        (gcal.DeleteEventInput, {"event_id": "../../x"}),
    ],
)
def test_bad_input_is_rejected(model: type[BaseModel], payload: dict[str, Any]):
    with pytest.raises(ValidationError):
        model.model_validate(payload)


def test_connector_declares_its_tools():
    c = gcal.CONNECTOR
    assert c.type == "google-calendar" and c.credential_type == "oauth2"
    assert [c.tool_name(a) for a in c.actions] == [
        "GOOGLE_CALENDAR_LIST_EVENTS",
        "GOOGLE_CALENDAR_CREATE_EVENT",
        "GOOGLE_CALENDAR_DELETE_EVENT",
        "GOOGLE_CALENDAR_FREE_BUSY",
    ]
