"""Enrichment batches end to end: local and HTTP providers, rate limits, errors, cancel."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.conftest import Stack, new_user, wait_for
from tests.leads.conftest import wait_job
from tests.leads.fake_providers import FakeHunter, FakePDL, hunter_person, pdl_person
from tests.plain import plain


async def make_leads(api: httpx.AsyncClient, n: int, **extra: Any) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    leads = []
    for i in range(n):
        r = await api.post(
            "/api/v2/leads",
            json={
                "first_name": "jane",
                "last_name": "o'neil",
                "email": f"jane{i}.{tag}@acme-robotics.io",
                "phone": "(415) 555-2671",
                **extra,
            },
        )
        assert r.status_code == 201, r.text
        leads.append(r.json())
    return leads


async def start(api: httpx.AsyncClient, **body: Any) -> str:
    r = await api.post("/api/v2/enrichment/batches", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["success"] is True
    return str(r.json()["data"]["jobId"])


async def batch(api: httpx.AsyncClient, job_id: str, **params: Any) -> dict[str, Any]:
    r = await api.get(f"/api/v2/enrichment/batches/{job_id}", params=params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_local_provider_fills_empty_fields_only(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        leads = await make_leads(api, 120)
        typed = (
            await api.post(
                "/api/v2/leads",
                json={
                    "first_name": "Max",
                    "last_name": "Typed",
                    "email": "max@hooli.com",
                    "company": "Typed By User",
                },
            )
        ).json()
        ids = [lead["id"] for lead in leads] + [typed["id"], "lead_missing"]
        job_id = await start(api, leadIds=ids)
        assert job_id.startswith("enrich_")
        job = await wait_job(api, job_id)
        assert job["status"] == "completed", job
        assert job["type"] == "data_enrichment"
        assert job["metadata"]["batchSize"] == 122 and job["metadata"]["processed"] == 122
        assert job["progress"] == 100

        lead = (await api.get(f"/api/v2/leads/{leads[5]['id']}")).json()
        assert lead["company"] == "Acme Robotics"
        assert lead["first_name"] == "jane" and lead["phone"] == "(415) 555-2671"
        local = lead["enrichment"]["providers"]["local"]
        assert local["status"] == "matched"
        assert local["email"]["freeMail"] is False and local["email"]["deliverability"] == "likely"
        assert local["phone"]["e164"] == "+14155552671"
        assert lead["enrichment"]["batchIds"] == [job_id] and lead["enriched_at"]
        kept = (await api.get(f"/api/v2/leads/{typed['id']}")).json()
        assert kept["company"] == "Typed By User"

        status = await batch(api, job_id, limit=1000)
        assert (status["enriched"], status["failed"], status["pending"]) == (121, 1, 0)
        by_lead = {r["leadId"]: r for r in status["results"]}
        assert by_lead["lead_missing"]["status"] == "failed"
        assert by_lead["lead_missing"]["error"] == "Lead not found"
        assert by_lead[leads[0]["id"]]["fieldsUpdated"] == ["company"]
        assert by_lead[typed["id"]]["fieldsUpdated"] == []
        failed = await batch(api, job_id, status="failed")
        assert [r["leadId"] for r in failed["results"]] == ["lead_missing"]

        r = await api.get("/api/v2/users/jobs", params={"type": "data_enrichment"})
        listed = r.json()["data"]["jobs"][0]
        assert listed["id"] == job_id and listed["metadata"]["batchSize"] == 122


async def test_overwrite_and_fields_with_a_filter(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        leads = await make_leads(api, 3, tags=["enrich-me"], linkedin_url="linkedin.com/in/JaneX/")
        await make_leads(api, 2)
        job_id = await start(
            api,
            filter={"tag": "enrich-me"},
            overwrite=True,
            fields=["first_name", "last_name", "phone", "linkedin_url"],
        )
        job = await wait_job(api, job_id)
        assert job["status"] == "completed" and job["metadata"]["batchSize"] == 3
        lead = (await api.get(f"/api/v2/leads/{leads[0]['id']}")).json()
        assert (lead["first_name"], lead["last_name"]) == ("Jane", "O'Neil")
        assert lead["phone"] == "+14155552671"
        assert lead["linkedin_url"] == "https://www.linkedin.com/in/janex"
        assert lead["company"] is None, "company was not among the fields asked for"
        result = (await batch(api, job_id))["results"][0]
        assert sorted(result["fieldsUpdated"]) == [
            "first_name",
            "last_name",
            "linkedin_url",
            "phone",
        ]


async def test_refusals(leads_stack: Stack) -> None:
    _user, key = await new_user(leads_stack)
    _other, other_key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        for payload, status in (
            ({}, 400),
            ({"leadIds": ["a"], "filter": {}}, 400),
            ({"leadIds": []}, 400),
            ({"leadIds": ["a"], "providers": ["clearbit"]}, 422),
            ({"leadIds": ["a"], "providers": ["hunter"]}, 422),
            ({"leadIds": ["a"], "fields": ["email"]}, 422),
            ({"filter": {"status": "nope"}}, 422),
            ({"leadIds": "a"}, 422),
        ):
            r = await api.post("/api/v2/enrichment/batches", json=payload)
            assert r.status_code == status, (payload, r.text)
        job_id = await start(api, filter={})
        await wait_job(api, job_id)
    async with leads_stack.api(other_key) as other:
        r = await other.get(f"/api/v2/enrichment/batches/{job_id}")
        assert r.status_code == 404


async def test_pdl_with_a_sealed_key_and_a_rate_limit(
    leads_stack: Stack, fake_pdl: FakePDL
) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        leads = await make_leads(api, 25)
        for lead in leads[:20]:
            fake_pdl.people[lead["email"]] = pdl_person(lead["email"], "Jane", "Oneil")
        fake_pdl.rate_limit_next = 1
        job_id = await start(
            api,
            leadIds=[lead["id"] for lead in leads],
            providers=["pdl"],
            apiKeys={"pdl": fake_pdl.key},
        )
        job = await wait_job(api, job_id)
        assert job["status"] == "completed", job
        assert len(fake_pdl.calls) == 3, "25 leads in bulk calls of 10 (the 429 retried)"
        status = await batch(api, job_id)
        assert status["enriched"] == 25
        providers = {r["leadId"]: r["providers"]["pdl"] for r in status["results"]}
        assert providers[leads[0]["id"]] == "matched"
        assert providers[leads[24]["id"]] == "no_match"
        lead = (await api.get(f"/api/v2/leads/{leads[0]['id']}")).json()
        assert lead["job_title"] == "Head Of Growth"
        assert lead["location"] == "San Francisco, California, United States"
        assert lead["company"] == "Pied Piper"
        assert lead["linkedin_url"] == "https://www.linkedin.com/in/janeoneil"
        assert lead["phone"] == "(415) 555-2671", "never overwritten unless asked"
        assert lead["enrichment"]["providers"]["pdl"]["likelihood"] == 9
        history = await leads_stack.client.get_workflow_handle(job_id).fetch_history()
        history = await plain(history, leads_stack.client)  # decrypted: the key is not inside
        assert fake_pdl.key not in json.dumps(history.to_json_dict())


async def test_hunter_with_a_stored_credential(leads_stack: Stack, fake_hunter: FakeHunter) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        r = await api.post(
            "/api/v1/credentials",
            json={
                "name": "hunter",
                "provider": "hunter",
                "data": {"api_key": fake_hunter.key},
            },
        )
        assert r.status_code == 201, r.text
        credential_id = r.json()["id"]
        leads = await make_leads(api, 4)
        fake_hunter.people[leads[0]["email"]] = hunter_person("Jane", "Oneil")
        fake_hunter.verifications[leads[1]["email"]] = {"status": "invalid", "score": 3}
        fake_hunter.pending_once.add(leads[2]["email"])
        fake_hunter.rate_limit_next = 1
        job_id = await start(
            api,
            leadIds=[lead["id"] for lead in leads],
            providers=["hunter", "local"],
            credentials={"hunter": credential_id},
        )
        job = await wait_job(api, job_id)
        assert job["status"] == "completed", job
        first = (await api.get(f"/api/v2/leads/{leads[0]['id']}")).json()
        assert first["company"] == "Hooli", "a real provider's answer beats local's guess"
        assert first["job_title"] == "VP Engineering"
        assert first["location"] == "Palo Alto, California, United States"
        assert first["linkedin_url"] == "https://www.linkedin.com/in/jane-oneil"
        hunter = first["enrichment"]["providers"]["hunter"]
        assert hunter["email"]["status"] == "valid" and hunter["company"]["domain"] == "hooli.com"
        second = (await api.get(f"/api/v2/leads/{leads[1]['id']}")).json()
        assert second["enrichment"]["providers"]["hunter"]["email"]["status"] == "invalid"
        assert second["company"] == "Acme Robotics"
        assert all(r.headers.get("x-api-key") == fake_hunter.key for r in fake_hunter.requests)
        assert all("api_key" not in r.query for r in fake_hunter.requests)


async def test_rejected_key_fails_the_job_and_its_leads(
    leads_stack: Stack, fake_pdl: FakePDL
) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        leads = await make_leads(api, 3)
        job_id = await start(
            api, leadIds=[lead["id"] for lead in leads], providers=["pdl"], apiKeys={"pdl": "wrong"}
        )
        job = await wait_job(api, job_id)
        assert job["status"] == "failed"
        assert "Invalid API key" in job["message"]
        status = await batch(api, job_id)
        assert status["failed"] == 3 and status["results"][0]["error"] == "Invalid API key"
        lead = (await api.get(f"/api/v2/leads/{leads[0]['id']}")).json()
        assert lead["enrichment"] is None and lead["updated_at"] == leads[0]["updated_at"]


async def test_cancel_mid_batch_keeps_finished_leads_and_leaves_the_rest(
    leads_stack: Stack, fake_pdl: FakePDL
) -> None:
    _user, key = await new_user(leads_stack)
    async with leads_stack.api(key) as api:
        leads = await make_leads(api, 30)
        for lead in leads:
            fake_pdl.people[lead["email"]] = pdl_person(lead["email"], "Jane", "Oneil")
        fake_pdl.open_calls = 1
        job_id = await start(
            api,
            leadIds=[lead["id"] for lead in leads],
            providers=["pdl"],
            apiKeys={"pdl": fake_pdl.key},
        )
        await wait_for(lambda: _is_set(fake_pdl), timeout=30)
        r = await api.delete(f"/api/v2/users/jobs/{job_id}")
        assert r.status_code == 202, r.text
        job = await wait_job(api, job_id)
        assert job["status"] == "cancelled", job
        status = await batch(api, job_id)
        assert (status["enriched"], status["cancelled"], status["pending"]) == (10, 20, 0)
        fake_pdl.gate.set()
        for i, lead in enumerate(leads):
            now = (await api.get(f"/api/v2/leads/{lead['id']}")).json()
            if i < 10:
                assert now["job_title"] == "Head Of Growth" and now["enrichment"]
            else:
                assert now == lead, "leads after the cancel are untouched"


async def _is_set(pdl: FakePDL) -> bool:
    return pdl.blocked.is_set()
