"""Enrichment durability: continue-as-new for long batches, a worker killed mid-batch.

A lead written twice by one batch would show that batch's id twice in its
``enrichment.batchIds`` (an append-only trail), so both tests check it is there once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from connectors.enrichment import ENRICHABLE_FIELDS
from engine.models import queues
from engine.models.enrichment import EnrichmentBatchInput, EnrichmentBatchOutput
from engine.models.jobs import start_attributes, start_memo
from store import enrichment_repo, lead_repo
from store.lead_fields import clean_fields
from store.leads import EnrichmentBatch
from tests.conftest import Stack, make_settings, new_user, run_stack, settings_env, wait_for
from tests.leads.conftest import leads_settings_overrides
from tests.leads.fake_providers import FakeHunter, FakePDL, pdl_person
from tests.plain import plain

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "histories"


async def seed_batch(
    stack: Stack, user_id: str, n: int, providers: list[str]
) -> tuple[str, list[str]]:
    tag = uuid.uuid4().hex[:6]
    ids = []
    for i in range(n):
        values = clean_fields(
            {"first_name": "ann", "last_name": "lee", "email": f"ann{i}.{tag}@globex.io"},
            region="US",
            partial=False,
        )
        ids.append((await lead_repo.create_lead(stack.deps.db, user_id, values)).id)
    job_id = "enrich_" + uuid.uuid4().hex
    await enrichment_repo.save_batch(
        stack.deps.db,
        EnrichmentBatch(
            id=job_id,
            user_id=user_id,
            lead_ids=ids,
            providers=providers,
            fields=list(ENRICHABLE_FIELDS),
        ),
    )
    return job_id, ids


async def written_once(stack: Stack, user_id: str, job_id: str, ids: list[str]) -> None:
    for lead_id in ids:
        lead = await lead_repo.get_lead(stack.deps.db, user_id, lead_id)
        assert lead.enrichment is not None, lead_id
        assert lead.enrichment["batchIds"].count(job_id) == 1, lead.enrichment


async def test_long_batches_continue_as_new(leads_stack: Stack) -> None:
    user_id, _key = await new_user(leads_stack)
    job_id, ids = await seed_batch(leads_stack, user_id, 40, ["local"])
    handle = await leads_stack.client.start_workflow(
        "EnrichmentBatchWorkflow",
        EnrichmentBatchInput(
            batch_id=job_id,
            user_id=user_id,
            chunk_size=7,
            max_chunks_per_run=2,
            heartbeat_timeout_seconds=5,
        ),
        id=job_id,
        task_queue=queues.task_queue(leads_stack.settings.task_queue_prefix, queues.ENRICHMENT),
        search_attributes=start_attributes(user_id, "data_enrichment"),
        memo=start_memo("Processing lead enrichment batch", {}),
        result_type=EnrichmentBatchOutput,
    )
    first_run = handle.result_run_id
    result = await handle.result()
    assert (result.batchSize, result.enriched, result.failed) == (40, 40, 0)
    first = await leads_stack.client.get_workflow_handle(job_id, run_id=first_run).fetch_history()
    assert first.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    await written_once(leads_stack, user_id, job_id, ids)
    if os.environ.get("TASKYARD_RECORD_HISTORIES"):
        await asyncio.to_thread(
            (HISTORIES / "enrichment_batch_continued_v1.json").write_text,
            (await plain(first, leads_stack.client)).to_json(),
        )
        last = await handle.fetch_history()
        await asyncio.to_thread(
            (HISTORIES / "enrichment_batch_completed_v1.json").write_text,
            (await plain(last, leads_stack.client)).to_json(),
        )


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "worker.py", "--queue", "enrichment"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.slow
async def test_worker_killed_mid_batch_never_enriches_a_lead_twice(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    tmp_path: Path,
    fake_hunter: FakeHunter,
    fake_pdl: FakePDL,
    leads_stack: Stack,
) -> None:
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path,
        **{
            **leads_settings_overrides(fake_hunter, fake_pdl),
            "pdl_bulk_size": 5,
            "pdl_api_key": fake_pdl.key,
            "enrichment_operator_keys": True,  # (the batch names no key of its own)
        },
    )
    env = settings_env(settings)
    user_id, _key = await new_user(leads_stack)
    job_id, ids = await seed_batch(leads_stack, user_id, 40, ["pdl"])
    for lead_id in ids:
        lead = await lead_repo.get_lead(leads_stack.deps.db, user_id, lead_id)
        fake_pdl.people[lead.email] = pdl_person(lead.email, "Ann", "Lee")
    fake_pdl.delay = 0.3
    async with run_stack(temporal_env, settings, with_worker=False) as stack:
        first = start_worker(env, tmp_path / "worker.log")
        handle = await stack.client.start_workflow(
            "EnrichmentBatchWorkflow",
            EnrichmentBatchInput(
                batch_id=job_id, user_id=user_id, chunk_size=20, heartbeat_timeout_seconds=2
            ),
            id=job_id,
            task_queue=queues.task_queue(settings.task_queue_prefix, queues.ENRICHMENT),
            search_attributes=start_attributes(user_id, "data_enrichment"),
            memo=start_memo("Processing lead enrichment batch", {}),
            result_type=EnrichmentBatchOutput,
        )

        async def some_enriched() -> bool:
            return (await enrichment_repo.counts(stack.deps.db, job_id))["enriched"] >= 10

        second: subprocess.Popen[bytes] | None = None
        try:
            await wait_for(some_enriched, timeout=60)
            os.killpg(first.pid, signal.SIGKILL)  # a crash, not a graceful stop
            first.wait()
            before = await enrichment_repo.counts(stack.deps.db, job_id)
            assert before["enriched"] < 40, "killed mid-batch"
            second = start_worker(env, tmp_path / "worker.log")
            result = await asyncio.wait_for(handle.result(), timeout=90)
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        assert (result.enriched, result.failed) == (40, 0)
        await written_once(stack, user_id, job_id, ids)
        history = await handle.fetch_history()
        retried = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and e.activity_task_started_event_attributes.attempt > 1
        ]
        assert retried, "the chunk the dead worker held was retried on the new one"
