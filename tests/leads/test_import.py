"""Lead imports: a 10,000-row CSV with bad rows, JSON with duplicates, and refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from pathlib import Path

from tests.conftest import Stack, new_user
from tests.leads.conftest import wait_job
from tests.plain import plain

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


def csv_body(rows: list[list[str]], header: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_ten_thousand_row_csv_keeps_good_rows_and_lists_bad_ones(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    header = [
        "First Name",
        "Last Name",
        "Email Address",
        "Company",
        "Phone",
        "Title",
        "Tags",
        "Source",
    ]
    rows = [
        [
            f"first{i}",
            f"Last{i}",
            f"person{i}@example.com",
            f"Company {i % 50}",
            "+1 415 555 2671" if i % 3 == 0 else "",
            "Engineer",
            "import;batch",
            "fair",
        ]
        for i in range(10_000)
    ]
    rows[10][2] = "not-an-email"  # row 11: invalid email
    rows[20][1] = ""  # row 21: missing last name
    rows[30][4] = "12"  # row 31: invalid phone
    rows[40][2] = "PERSON0@example.com"  # row 41: duplicate of row 1 (case-insensitive)
    async with leads_stack.api(key) as api:
        r = await api.post(
            "/api/v2/leads/import",
            content=csv_body(rows, header),
            headers={"content-type": "text/csv"},
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["data"]["jobId"]
        assert r.json()["data"]["totalRows"] == 10_000
        job = await wait_job(api, job_id, timeout=120)
        assert job["status"] == "completed", job
        assert job["type"] == "lead_import"
        assert job["metadata"]["imported"] == 9_996

        r = await api.get(f"/api/v2/leads/import/{job_id}")
        status = r.json()["data"]
        assert status["status"] == "completed"
        assert (status["imported"], status["failed"], status["pending"]) == (9_996, 4, 0)
        errors = {e["row"]: e for e in status["errors"]}
        assert errors[11]["code"] == "INVALID_EMAIL" and errors[11]["field"] == "email"
        assert errors[21]["code"] == "MISSING_FIELDS"
        assert errors[31]["code"] == "INVALID_PHONE"
        assert errors[41]["code"] == "DUPLICATE_EMAIL" and errors[41]["leadId"]

        r = await api.get("/api/v2/leads", params={"limit": 1})
        assert r.json()["total"] == 9_996
        r = await api.get("/api/v2/leads", params={"search": "person1234@"})
        [lead] = r.json()["data"]
        assert lead["first_name"] == "first1234" and lead["job_title"] == "Engineer"
        assert lead["tags"] == ["import", "batch"] and lead["custom_fields"] == {"Source": "fair"}
        r = await api.get("/api/v2/leads", params={"tag": "batch", "limit": 1})
        assert r.json()["total"] == 9_996

        r = await api.get("/api/v2/users/jobs", params={"type": "lead_import"})
        assert [j["id"] for j in r.json()["data"]["jobs"]] == [job_id]


async def test_json_import_with_duplicates_skip_and_update(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        first = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
        r = await api.post("/api/v2/leads", json={**first, "company": "Old Co", "notes": "keep"})
        existing = r.json()
        rows = [
            {**first, "email": "ANN@example.com", "company": "New Co", "title": "CTO"},
            {"first_name": "Ben", "last_name": "Ng", "email": "ben@example.com"},
            "not an object",
        ]
        r = await api.post("/api/v2/leads/import", json={"leads": rows, "onDuplicate": "update"})
        assert r.status_code == 202, r.text
        job = await wait_job(api, r.json()["data"]["jobId"])
        assert job["status"] == "completed"
        if os.environ.get("TASKYARD_RECORD_HISTORIES"):
            history = await leads_stack.client.get_workflow_handle(job["id"]).fetch_history()
            await asyncio.to_thread(
                (HISTORIES / "lead_import_completed_v1.json").write_text,
                (await plain(history, leads_stack.client)).to_json(),
            )
        status = (await api.get(f"/api/v2/leads/import/{job['id']}")).json()["data"]
        assert (status["imported"], status["updated"], status["failed"]) == (1, 1, 1)
        assert status["errors"] == [
            {
                "row": 3,
                "status": "failed",
                "field": None,
                "code": "INVALID_ROW",
                "message": "row is not a JSON object",
                "leadId": None,
            }
        ]
        lead = (await api.get(f"/api/v2/leads/{existing['id']}")).json()
        assert (lead["company"], lead["job_title"], lead["notes"]) == ("New Co", "CTO", "keep")

        r = await api.post(
            "/api/v2/leads/import",
            params={"onDuplicate": "skip"},
            json=[{**first, "company": "Ignored"}],
        )
        job = await wait_job(api, r.json()["data"]["jobId"])
        status = (await api.get(f"/api/v2/leads/import/{job['id']}")).json()["data"]
        assert status["skipped"] == 1 and status["errors"][0]["status"] == "skipped"
        assert (await api.get(f"/api/v2/leads/{existing['id']}")).json()["company"] == "New Co"


async def test_import_refusals(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    _other, other_key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        cases = [
            (b"", "text/csv", "INVALID_CSV"),
            (b"name,email\nx,y@example.com\n", "text/csv", "MISSING_COLUMNS"),
            (b"first_name,last_name,email\n", "text/csv", "EMPTY_IMPORT"),
            (b"[]", "application/json", "EMPTY_IMPORT"),
            (b'{"leads": 3}', "application/json", "VALIDATION_ERROR"),
            (b"<xml/>", "application/xml", "UNSUPPORTED_CONTENT_TYPE"),
            (b"\xff\xfe", "text/csv", "INVALID_CSV"),
        ]
        for content, content_type, code in cases:
            r = await api.post(
                "/api/v2/leads/import", content=content, headers={"content-type": content_type}
            )
            assert r.status_code in (400, 422), (content, r.text)
            assert r.json()["code"] == code, (content, r.json())
        r = await api.post(
            "/api/v2/leads/import",
            params={"onDuplicate": "merge"},
            json=[{"first_name": "a", "last_name": "b", "email": "c@example.com"}],
        )
        assert r.status_code == 400
        r = await api.post(
            "/api/v2/leads/import",
            json=[{"first_name": "a", "last_name": "b", "email": "c@example.com"}],
        )
        job_id = r.json()["data"]["jobId"]
    async with leads_stack.api(other_key) as other:
        assert (await other.get(f"/api/v2/leads/import/{job_id}")).status_code == 404
