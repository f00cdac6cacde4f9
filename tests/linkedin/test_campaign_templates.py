"""Campaign texts through the one template engine: lead fields, fallbacks, limits, and
hostile templates answered within a second while the API stays responsive."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType

from engine.services import templates
from tests.conftest import Stack, new_user
from tests.linkedin.helpers import connect, fast_settings, wait_status

BULK = "/api/v2/linkedin/actions/bulk"
BOUND = 1.0  # seconds: for the hostile request, and for a health check made meanwhile


def profile(i: int) -> str:
    return f"https://www.linkedin.com/in/member-{i:05d}"


async def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


async def bulk_while_checking_health(
    stack: Stack, key: str, body: dict[str, Any]
) -> httpx.Response:
    async with stack.api(key) as api, stack.api() as other:
        (r, took), (health, health_took) = await asyncio.gather(
            timed(api.post(BULK, json=body)), timed(other.get("/api/v2/health"))
        )
    assert health.status_code == 200, health.text
    assert took < BOUND, f"the campaign took {took:.2f}s"
    assert health_took < BOUND, f"health took {health_took:.2f}s during the campaign"
    return r


async def started_input(stack: Stack, job_id: str) -> dict[str, Any]:
    handle = stack.client.get_workflow_handle(job_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payload = event.workflow_execution_started_event_attributes.input.payloads[0]
            codec = stack.client.data_converter.payload_codec
            if codec is not None:  # payloads are encrypted in history
                payload = (await codec.decode([payload]))[0]
            data: dict[str, Any] = json.loads(payload.data)
            return data
    raise AssertionError("no start event")


async def connected_user(stack: Stack) -> str:
    _user, key = await new_user(stack)
    await connect(stack, key)
    await fast_settings(stack, key)
    return key


async def test_an_unclosed_fallback_is_text_and_answers_at_once(stack: Stack) -> None:
    key = await connected_user(stack)
    message = "{{a|" + " " * 2000
    r = await bulk_while_checking_health(
        stack, key, {"actionType": "sendMessage", "message": message, "profileUrls": [profile(1)]}
    )
    assert r.status_code == 202, r.text
    [job_id] = r.json()["data"]["jobIds"]
    assert (await started_input(stack, job_id))["message"] == message
    done = await wait_status(stack, key, job_id, "completed", "failed")
    assert done["status"] == "completed"


async def test_a_thousand_targets_are_rendered_within_the_bound(stack: Stack) -> None:
    key = await connected_user(stack)
    leads = [{"profileUrl": profile(i), "company": "Acme"} for i in range(1000)]
    message = "Hi {{firstName}} from {{company|your company}} {{a|" + " " * 100
    r = await bulk_while_checking_health(
        stack, key, {"actionType": "sendMessage", "message": message, "leads": leads}
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["message"].startswith("1000 problem(s)")
    errors = body["details"]["errors"]
    assert len(errors) == 100
    assert errors[0] == {"index": 0, "field": "message", "message": "no value for firstName"}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"message": "x" * 8001}, "message", "8000"),
        ({"note": "x" * 2001, "actionType": "sendConnectionRequest"}, "note", "2000"),
        ({"message": "Hi {{first name}}"}, "message", "invalid template"),
        ({"message": "{{" + "!" * 1500 + "x}}"}, "message", "nests deeper"),
        (
            {"message": "{{firstName}}" * (templates.MAX_TEMPLATES + 1)},
            "message",
            f"more than {templates.MAX_TEMPLATES} templates",
        ),
        (
            {"message": "{{" + " || ".join(["firstName"] * (templates.MAX_TERMS // 2 + 1)) + "}}"},
            "message",
            f"more than {templates.MAX_TERMS} terms",
        ),
    ],
    ids=["long-message", "long-note", "invalid", "deep", "many", "terms"],
)
async def test_unusable_templates_are_a_422_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str, words: str
) -> None:
    key = await connected_user(stack)
    request = {"actionType": "sendMessage", "profileUrls": [profile(1)], **body}
    r = await bulk_while_checking_health(stack, key, request)
    assert r.status_code == 422, r.text
    assert field in r.text and words in r.text, r.text


async def test_rendered_texts_are_capped(stack: Stack) -> None:
    key = await connected_user(stack)
    leads = [
        {"profileUrl": profile(1), "bio": "b" * 8001},
        {"profileUrl": profile(2), "bio": "b" * 301},
        {"profileUrl": profile(3), "bio": "b" * 10**6},
    ]
    async with stack.api(key) as api:
        r = await api.post(
            BULK, json={"actionType": "sendMessage", "message": "{{bio}}", "leads": leads}
        )
        assert r.status_code == 422, r.text
        errors = r.json()["details"]["errors"]
        assert [(e["index"], e["field"]) for e in errors] == [(0, "message"), (2, "message")]
        assert "longer than 8000 characters once rendered" in errors[0]["message"]
        r = await api.post(
            BULK,
            json={"actionType": "sendConnectionRequest", "note": "{{ bio }}", "leads": leads},
        )
        assert r.status_code == 422, r.text
        errors = r.json()["details"]["errors"]
        assert [(e["index"], e["field"]) for e in errors] == [(0, "note"), (1, "note"), (2, "note")]
        assert "longer than 2000 characters once rendered" in errors[0]["message"]
        assert "at most 300 characters" in errors[1]["message"]


async def test_lead_fields_top_level_and_under_lead_with_fallbacks(stack: Stack) -> None:
    key = await connected_user(stack)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/leads",
            json={
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@example.com",
                "company": "Navy",
                "linkedin_url": "https://www.linkedin.com/in/grace-hopper",
                "custom_fields": {"favorite_language": "COBOL"},
            },
        )
        assert r.status_code == 201, r.text
        lead_id = r.json()["id"]
        r = await api.post(
            BULK,
            json={
                "actionType": "sendConnectionRequest",
                "note": "Hi {{lead.firstName|there}} ({{first_name}}) of "
                "{{lead.company | your company}}; {{lead.favoriteLanguage | ' '}}",
                "leads": [{"profileUrl": profile(1), "firstName": "Ada", "first_name": "A."}],
                "leadIds": [lead_id],
            },
        )
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    notes = [(await started_input(stack, j))["note"] for j in data["jobIds"]]
    assert notes == [
        "Hi Ada (A.) of your company;  ",
        "Hi Grace (Grace) of Navy; COBOL",
    ]
    for job_id in data["jobIds"]:
        done = await wait_status(stack, key, job_id, "completed", "failed")
        assert done["status"] == "completed"
        if done["metadata"].get("leadId"):
            assert done["metadata"]["leadId"] == lead_id


def test_names_find_their_snake_and_camel_twins() -> None:
    text = templates.compile_text("{{first_name}} {{lead.job_title}} {{lead.x.y}} {{z | q}}", "m")
    names = templates.names_read([text, None])
    assert names == {"first_name", "job_title", "x", "z"}
    context = templates.field_context(
        {"firstName": "Ada", "job_title": "", "jobTitle": "Eng"}, names
    )
    assert context["first_name"] == "Ada" and context["lead"]["job_title"] == "Eng"
    assert text.render(context, limit=100) == ("Ada Eng  q", ["lead.x.y"])
