"""Leads benchmark: a 10,000-lead local enrichment batch and the lead list at 100,000 leads.

1. Import 10,000 leads (``POST /api/v2/leads/import``, CSV), reported as rows/s.
2. Enrich them with the ``local`` provider through ``POST /api/v2/enrichment/batches``:
   leads/s from the POST to the job's end, Temporal history events per 1,000 leads
   (every run of the continue-as-new chain), and the worker process's peak RSS.
   Raw temporalio: the same workflow started with ``client.execute_workflow`` on a
   second batch of the same leads, bypassing the API.
3. ``GET /api/v2/leads`` p50/p99 with 100,000 leads for the user (default sort, a
   search, a tag filter), against the same page read straight from the database.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
import uuid
from typing import Any

import psutil
from sqlalchemy import insert

from bench.harness import BenchStack, Stats, bench_stack, measure
from connectors.enrichment import ENRICHABLE_FIELDS
from engine.models import queues
from engine.models.enrichment import EnrichmentBatchInput, EnrichmentBatchOutput
from engine.models.jobs import start_attributes, start_memo
from store import enrichment_repo, lead_repo
from store.db import Database, utcnow
from store.leads import EnrichmentBatch, Lead, LeadTag, new_lead_id

LEADS = int(os.environ.get("BENCH_LEADS", "10000"))
LIST_TOTAL = int(os.environ.get("BENCH_LIST_LEADS", "100000"))
LIST_CALLS = int(os.environ.get("BENCH_LIST_CALLS", "200"))
CONCURRENCY = int(os.environ.get("BENCH_LEADS_CONCURRENCY", "4"))


def worker_process() -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        if any(part.endswith("worker.py") for part in child.cmdline()):
            return child
    raise RuntimeError("no worker process found")


class PeakRss:
    """Samples a process's resident memory every 50 ms while running."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self.start = self.peak
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def wait_done(stack: BenchStack, key: str, job_id: str) -> dict[str, Any]:
    async with stack.api(key) as api:
        while True:
            job: dict[str, Any] = (await api.get(f"/api/v2/users/jobs/{job_id}")).json()["data"]
            if job["status"] in ("completed", "failed", "cancelled"):
                return job
            await asyncio.sleep(0.1)


async def history_events(stack: BenchStack, job_id: str) -> tuple[int, int]:
    """(events over every run of the job, number of runs)."""
    total = runs = 0
    async for execution in stack.client.list_workflows(f"WorkflowId = '{job_id}'"):
        handle = stack.client.get_workflow_handle(job_id, run_id=execution.run_id)
        total += len((await handle.fetch_history()).events)
        runs += 1
    return total, runs


async def import_leads(stack: BenchStack, key: str) -> float:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["first_name", "last_name", "email", "phone", "tags"])
    for i in range(LEADS):
        writer.writerow(
            [f"first{i}", f"LAST{i}", f"lead{i}@company{i % 300}.com", "+1 415 555 2671", "bench"]
        )
    async with stack.api(key) as api:
        started = time.perf_counter()
        r = await api.post(
            "/api/v2/leads/import",
            content=out.getvalue().encode(),
            headers={"content-type": "text/csv"},
        )
        r.raise_for_status()
        job = await wait_done(stack, key, r.json()["data"]["jobId"])
        assert job["status"] == "completed", job
        return time.perf_counter() - started


async def enrich_via_api(stack: BenchStack, key: str) -> tuple[float, str, int]:
    worker = worker_process()
    with PeakRss(worker) as rss:
        async with stack.api(key) as api:
            started = time.perf_counter()
            r = await api.post("/api/v2/enrichment/batches", json={"filter": {"tag": "bench"}})
            r.raise_for_status()
            job_id = r.json()["data"]["jobId"]
        job = await wait_done(stack, key, job_id)
        seconds = time.perf_counter() - started
    assert job["status"] == "completed", job
    print(f"  worker RSS: {rss.start / 2**20:.0f} MiB before, peak {rss.peak / 2**20:.0f} MiB")
    return seconds, job_id, job["metadata"]["processed"]


async def enrich_raw(stack: BenchStack, db: Database, user_id: str) -> float:
    job_id = "raw_" + uuid.uuid4().hex
    await enrichment_repo.save_batch(
        db,
        EnrichmentBatch(
            id=job_id,
            user_id=user_id,
            filter={"tag": "bench"},
            providers=["local"],
            fields=list(ENRICHABLE_FIELDS),
        ),
    )
    started = time.perf_counter()
    result = await stack.client.execute_workflow(
        "EnrichmentBatchWorkflow",
        EnrichmentBatchInput(
            batch_id=job_id, user_id=user_id, chunk_size=stack.settings.enrichment_chunk_size
        ),
        id=job_id,
        task_queue=queues.task_queue(stack.settings.task_queue_prefix, queues.ENRICHMENT),
        search_attributes=start_attributes(user_id, "data_enrichment"),
        memo=start_memo("raw", {}),
        result_type=EnrichmentBatchOutput,
    )
    assert result.enriched == LEADS, result
    return time.perf_counter() - started


async def fill_leads(db: Database, user_id: str, count: int) -> None:
    now = utcnow()
    for start in range(0, count, 5000):
        rows: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        for i in range(start, min(count, start + 5000)):
            lead_id = new_lead_id()
            email = f"filler{i}@example{i % 997}.org"
            rows.append(
                {
                    "id": lead_id,
                    "user_id": user_id,
                    "first_name": f"Filler{i}",
                    "last_name": f"Person{i % 1000}",
                    "email": email,
                    "email_key": email,
                    "company": f"Company {i % 500}",
                    "phone": None,
                    "linkedin_url": None,
                    "job_title": None,
                    "location": None,
                    "notes": None,
                    "tags": ["filler"] if i % 10 else ["filler", "vip"],
                    "custom_fields": {},
                    "status": "new",
                    "search_text": f"filler{i} person{i % 1000} {email}",
                    "enrichment": None,
                    "enriched_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            tags.append({"lead_id": lead_id, "user_id": user_id, "tag": "filler"})
            if i % 10 == 0:
                tags.append({"lead_id": lead_id, "user_id": user_id, "tag": "vip"})
        async with db.session() as session:
            await lead_repo.run(session, insert(Lead), params=rows)
            await lead_repo.run(session, insert(LeadTag), params=tags)
            await session.commit()


async def list_latency(stack: BenchStack, db: Database, user_id: str, key: str) -> None:
    cases = [("default", {}), ("search", {"search": "person42"}), ("tag", {"tag": "vip"})]
    async with stack.api(key) as api:
        for label, params in cases:

            async def api_call(i: int, params: dict[str, Any] = params) -> None:
                r = await api.get("/api/v2/leads", params={**params, "offset": (i % 20) * 50})
                r.raise_for_status()

            async def raw_call(i: int, params: dict[str, Any] = params) -> None:
                await lead_repo.list_leads(
                    db,
                    user_id,
                    lead_repo.LeadFilter(**params),
                    sort="created_at",
                    order="desc",
                    limit=50,
                    offset=(i % 20) * 50,
                )

            await measure(20, CONCURRENCY, api_call)  # warm up
            api_stats: Stats = await measure(LIST_CALLS, CONCURRENCY, api_call)
            raw_stats: Stats = await measure(LIST_CALLS, CONCURRENCY, raw_call)
            print("  " + api_stats.line(f"GET /api/v2/leads {label}"))
            print("  " + raw_stats.line(f"direct DB page {label}"))
            print(
                f"  {label}: p99 ratio api/direct-db = "
                f"{api_stats.pct(99) / max(raw_stats.pct(99), 1e-9):.2f}"
            )


async def main() -> None:
    async with bench_stack() as stack:
        user_id, key = await stack.new_user()
        db = Database(stack.settings.database_url)
        try:
            seconds = await import_leads(stack, key)
            print(f"  import {LEADS} rows (CSV): {seconds:.1f}s, {LEADS / seconds:.0f} rows/s")
            api_seconds, job_id, processed = await enrich_via_api(stack, key)
            assert processed == LEADS
            events, runs = await history_events(stack, job_id)
            raw_seconds = await enrich_raw(stack, db, user_id)
            print(
                f"  enrich {LEADS} leads (local, API): {api_seconds:.1f}s, "
                f"{LEADS / api_seconds:.0f} leads/s"
            )
            print(
                f"  enrich {LEADS} leads (local, raw temporalio start): {raw_seconds:.1f}s, "
                f"{LEADS / raw_seconds:.0f} leads/s"
            )
            print(f"  enrichment: throughput ratio api/raw = {raw_seconds / api_seconds:.2f}")
            print(
                f"  history: {events} events in {runs} run(s) = "
                f"{1000 * events / LEADS:.1f} events per 1,000 leads"
            )
            await fill_leads(db, user_id, LIST_TOTAL - LEADS)
            await list_latency(stack, db, user_id, key)
        finally:
            await db.close()
