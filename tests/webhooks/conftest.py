"""Webhook fixtures: a local receiver, and an API that refuses private URLs (no worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import Stack, make_settings, run_stack
from tests.fakes.server import serve
from tests.webhooks.receiver import Receiver
from tests.webhooks.skipping import skipping  # noqa: F401  (the time-skipping fixture)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    async with serve(r.app()) as base_url:
        r.base_url = base_url
        yield r


@pytest.fixture(scope="session")
async def strict_stack(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The API as an operator runs it in production: private URLs refused."""
    settings = make_settings(
        temporal_env, database_url, tmp_path_factory.mktemp("strict"), allow_private_urls=False
    )
    async with run_stack(temporal_env, settings, with_worker=False) as running:
        yield running
