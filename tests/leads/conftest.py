"""A stack whose Hunter and People Data Labs base URLs point at local fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import Stack, make_settings, run_stack, wait_for
from tests.fakes.server import serve
from tests.leads.fake_providers import FakeHunter, FakePDL


@pytest.fixture(scope="session")
async def fake_hunter() -> AsyncIterator[FakeHunter]:
    hunter = FakeHunter()
    async with serve(hunter.app()) as url:
        hunter.base_url = url
        yield hunter


@pytest.fixture(scope="session")
async def fake_pdl() -> AsyncIterator[FakePDL]:
    pdl = FakePDL()
    async with serve(pdl.app()) as url:
        pdl.base_url = url
        try:
            yield pdl
        finally:
            pdl.gate.set()


def leads_settings_overrides(hunter: FakeHunter, pdl: FakePDL) -> dict[str, Any]:
    return {
        "hunter_base_url": hunter.base_url + "/v2",
        "pdl_base_url": pdl.base_url + "/v5",
        "hunter_requests_per_second": 1000.0,
        "pdl_bulk_size": 10,
        "enrichment_chunk_size": 50,
        "enrichment_http_chunk_size": 20,
    }


@pytest.fixture(scope="session")
async def leads_stack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fake_hunter: FakeHunter,
    fake_pdl: FakePDL,
) -> AsyncIterator[Stack]:
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path_factory.mktemp("leads"),
        **leads_settings_overrides(fake_hunter, fake_pdl),
    )
    async with run_stack(temporal_env, settings) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_fakes(fake_hunter: FakeHunter, fake_pdl: FakePDL) -> None:
    fake_hunter.reset()
    fake_pdl.reset()


async def wait_job(api: httpx.AsyncClient, job_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the jobs API until the job has ended; returns the job."""

    async def ended() -> dict[str, Any] | None:
        r = await api.get(f"/api/v2/users/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()["data"]
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    result: dict[str, Any] = await wait_for(ended, timeout=timeout, interval=0.1)
    return result
