"""Leads CRUD (leads and keys API): shapes, every filter and sort, and every error the API
documents."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from store import lead_repo
from store.lead_fields import clean_fields
from tests.conftest import ADMIN_KEY, Stack, new_user


def body(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    lead = {"first_name": "John", "last_name": "Doe", "email": f"john.{tag}@example.com"}
    lead.update(overrides)
    return lead


SEED_EXAMPLE = {
    "first_name": "John",
    "last_name": "Doe",
    "email": "john.doe@example.com",
    "company": "Example Corp",
    "phone": "+1-555-123-4567",
    "linkedin_url": "https://linkedin.com/in/johndoe",
    "job_title": "Software Engineer",
    "location": "San Francisco, CA",
    "notes": "Met at tech conference 2024",
    "tags": ["conference", "engineer", "potential"],
    "custom_fields": {"lead_source": "conference", "priority": "high", "budget": 50000},
}


async def test_create_get_update_delete_as_the_sdk_reads_them(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        r = await api.post("/api/v2/leads", json=SEED_EXAMPLE)
        assert r.status_code == 201, r.text
        lead = r.json()
        assert lead["id"].startswith("lead_")
        for field, value in SEED_EXAMPLE.items():
            assert lead[field] == value, field
        assert lead["title"] == "Software Engineer"
        assert lead["status"] == "new"
        assert lead["created_at"].endswith("Z") and lead["updated_at"].endswith("Z")

        r = await api.get(f"/api/v2/leads/{lead['id']}")
        assert r.status_code == 200 and r.json() == lead

        update = {
            "company": "New Company Inc",
            "title": "Senior Software Engineer",
            "status": "contacted",
            "tags": ["contacted", "promoted", "hot-lead"],
            "custom_fields": {
                "priority": "very_high",
                "last_contacted": "2024-06-29",
                "budget": 75000,
            },
        }
        r = await api.patch(f"/api/v2/leads/{lead['id']}", json=update)
        assert r.status_code == 200, r.text
        patched = r.json()
        assert patched["company"] == "New Company Inc"
        assert patched["job_title"] == patched["title"] == "Senior Software Engineer"
        assert patched["status"] == "contacted"
        assert patched["tags"] == ["contacted", "promoted", "hot-lead"]
        assert patched["custom_fields"] == {
            "lead_source": "conference",
            "priority": "very_high",
            "last_contacted": "2024-06-29",
            "budget": 75000,
        }
        assert patched["updated_at"] >= lead["updated_at"]
        assert patched["email"] == lead["email"] and patched["notes"] == lead["notes"]

        # PUT merges custom_fields as PATCH does ("update custom fields"); null drops a key.
        r = await api.put(
            f"/api/v2/leads/{lead['id']}",
            json={"custom_fields": {"only": 1, "budget": None}, "phone": None},
        )
        assert r.status_code == 200, r.text
        assert r.json()["custom_fields"] == {
            "lead_source": "conference",
            "priority": "very_high",
            "last_contacted": "2024-06-29",
            "only": 1,
        }
        assert r.json()["phone"] is None

        r = await api.delete(f"/api/v2/leads/{lead['id']}")
        assert r.json() == {
            "success": True,
            "message": "Lead deleted successfully",
            "deleted_id": lead["id"],
        }
        for call in (api.get, api.delete):
            r = await call(f"/api/v2/leads/{lead['id']}")
            assert r.status_code == 404 and r.json()["code"] == "LEAD_NOT_FOUND"


async def test_errors_the_seed_lists(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"last_name": "Doe", "email": "a@example.com"}, 400, "MISSING_FIELDS"),
            (body(first_name="   "), 400, "MISSING_FIELDS"),
            (body(email=None), 400, "MISSING_FIELDS"),
            (body(email="not-an-email"), 422, "INVALID_EMAIL"),
            (body(email="a@b"), 422, "INVALID_EMAIL"),
            (body(phone="12"), 422, "INVALID_PHONE"),
            (body(phone="call me maybe"), 422, "INVALID_PHONE"),
            (body(status="hot"), 422, "VALIDATION_ERROR"),
            (body(tags="x"), 422, "VALIDATION_ERROR"),
        ]
        for payload, status, code in cases:
            r = await api.post("/api/v2/leads", json=payload)
            assert r.status_code == status, (payload, r.text)
            error = r.json()
            assert error["error"] is True and error["code"] == code, (payload, error)
            assert error["version"] == "2.0"
        r = await api.post(
            "/api/v2/leads", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400

        first = (await api.post("/api/v2/leads", json=body(email="Dup@Example.com"))).json()
        r = await api.post("/api/v2/leads", json=body(email="dup@example.COM"))
        assert r.status_code == 409 and r.json()["code"] == "LEAD_EXISTS"
        other = (await api.post("/api/v2/leads", json=body())).json()
        r = await api.put(f"/api/v2/leads/{other['id']}", json={"email": "DUP@example.com"})
        assert r.status_code == 409
        r = await api.put(f"/api/v2/leads/{first['id']}", json={"email": "dup@EXAMPLE.com"})
        assert r.status_code == 200, "changing only the case of its own email is fine"
        for payload, status in (
            ({}, 400),
            ({"first_name": None}, 400),
            ({"phone": "1"}, 422),
            ({"email": "nope"}, 422),
            ({"status": "gone"}, 422),
        ):
            r = await api.patch(f"/api/v2/leads/{other['id']}", json=payload)
            assert r.status_code == status, (payload, r.text)
        r = await api.get(f"/api/v2/leads/{other['id']}")
        assert r.json() == other, "refused updates change nothing"

    _user2, key2 = await new_user(leads_stack)
    async with leads_stack.api(key2) as api2:
        r = await api2.post("/api/v2/leads", json=body(email="dup@example.com"))
        assert r.status_code == 201, "uniqueness is per user"
        for call in (api2.get, api2.delete):
            assert (await call(f"/api/v2/leads/{other['id']}")).status_code == 404
        r = await api2.patch(f"/api/v2/leads/{other['id']}", json={"company": "x"})
        assert r.status_code == 404


async def test_concurrent_creates_of_one_email_make_one_lead(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        replies = await asyncio.gather(
            *(
                api.post(
                    "/api/v2/leads",
                    json=body(email="race@EXAMPLE.com" if i % 2 else "Race@example.com"),
                )
                for i in range(12)
            )
        )
        statuses = sorted(r.status_code for r in replies)
        assert statuses.count(201) == 1 and statuses.count(409) == 11, statuses
        r = await api.get("/api/v2/leads", params={"search": "race@"})
        assert r.json()["total"] == 1


async def test_scopes_and_global_keys(leads_stack: Stack) -> None:
    user_id, reader = await new_user(leads_stack, ["leads:read"])
    _u, writer = await new_user(leads_stack, ["leads:write"])
    async with leads_stack.api(reader) as api:
        r = await api.post("/api/v2/leads", json=body())
        assert r.status_code == 403 and r.json()["permissionHelp"]["required"] == "leads:write"
        assert (await api.get("/api/v2/leads")).status_code == 200
    async with leads_stack.api(writer) as api:
        lead = (await api.post("/api/v2/leads", json=body())).json()
        r = await api.delete(f"/api/v2/leads/{lead['id']}")
        assert r.status_code == 403
    async with leads_stack.api(ADMIN_KEY) as admin:
        assert (await admin.get("/api/v2/leads")).status_code == 400
        r = await admin.post("/api/v2/leads", params={"userId": user_id}, json=body())
        assert r.status_code == 201
        r = await admin.get("/api/v2/leads", params={"userId": user_id})
        assert r.json()["total"] == 1
    async with leads_stack.api() as anonymous:
        assert (await anonymous.get("/api/v2/leads")).status_code == 401


async def _seed(stack: Stack, user_id: str) -> list[str]:
    """Leads created in a known order (directly, for speed)."""
    people = [
        ("alice", "Zimmer", "Acme Corp", "new", ["vip"]),
        ("Bob", "young", "acme labs", "contacted", ["vip", "Cold"]),
        ("carol", "Xu", "Globex", "active", []),
        ("Dave", "Walker", None, "inactive", ["cold"]),
        ("Eve", "Vance", "Initech", "converted", ["VIP"]),
    ]
    ids = []
    for first, last, company, status, tags in people:
        values = clean_fields(
            {
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}@corp.example",
                "company": company,
                "status": status,
                "tags": tags,
            },
            region="US",
            partial=False,
        )
        ids.append((await lead_repo.create_lead(stack.deps.db, user_id, values)).id)
        await asyncio.sleep(0.002)  # distinct created_at values, so order is defined
    return ids


async def test_every_filter_sort_and_page(leads_stack: Stack) -> None:
    user_id, key = await new_user(leads_stack)
    ids = await _seed(leads_stack, user_id)
    alice, bob, carol, dave, eve = ids

    async def listed(api: httpx.AsyncClient, **params: Any) -> list[str]:
        r = await api.get("/api/v2/leads", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["data"] == page["leads"]
        assert page["limit"] == min(int(params.get("limit", 50)), 100)
        assert page["offset"] == int(params.get("offset", 0))
        return [lead["id"] for lead in page["data"]]

    async with leads_stack.api(key) as api:
        r = await api.get("/api/v2/leads")
        assert r.json()["total"] == 5 and r.json()["limit"] == 50
        assert await listed(api) == [eve, dave, carol, bob, alice]
        assert await listed(api, order="asc") == ids
        assert await listed(api, sort="first_name", order="asc") == ids
        assert await listed(api, sort="last_name") == [alice, bob, carol, dave, eve]
        assert await listed(api, sort="last_name", order="asc") == [eve, dave, carol, bob, alice]
        assert await listed(api, search="CAROL") == [carol]
        assert await listed(api, search="bob@corp") == [bob]
        assert await listed(api, search="zimm") == [alice]
        assert await listed(api, search="100%") == []
        assert await listed(api, company="acme", order="asc") == [alice, bob]
        assert await listed(api, status="contacted") == [bob]
        assert await listed(api, status="active") == [carol]
        assert await listed(api, tag="vip", order="asc") == [alice, bob, eve]
        assert await listed(api, tag="cold", order="asc") == [bob, dave]
        assert await listed(api, tag="vip", company="acme", search="bob") == [bob]
        first = await listed(api, limit=2, order="asc")
        second = await listed(api, limit=2, offset=2, order="asc")
        assert first + second == ids[:4]
        assert await listed(api, limit=500) == [eve, dave, carol, bob, alice]
        await api.patch(f"/api/v2/leads/{carol}", json={"notes": "touched"})
        assert (await listed(api, sort="updated_at"))[0] == carol
        for bad in (
            {"sort": "email"},
            {"order": "up"},
            {"offset": -1},
            {"limit": 0},
            {"status": "nope"},
            {"limit": "x"},
        ):
            r = await api.get("/api/v2/leads", params=bad)
            assert r.status_code == 400, (bad, r.text)
