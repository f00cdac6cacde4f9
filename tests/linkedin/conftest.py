"""LinkedIn fixtures: local LinkedIn and Unipile servers, and a stack that uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import Stack, make_settings, run_stack
from tests.fakes.server import serve
from tests.linkedin.campaign_rig import campaigns  # noqa: F401 (time-skipping fixtures)
from tests.linkedin.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    UNIPILE_KEY,
    WEBHOOK_SECRET,
    FakeLinkedIn,
    FakeUnipile,
)
from tests.linkedin.helpers import rebase
from tests.linkedin.skipping import rig, skipping_env  # noqa: F401 (time-skipping fixtures)


@pytest.fixture
async def fake_linkedin() -> AsyncIterator[FakeLinkedIn]:
    fake = FakeLinkedIn()
    async with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
async def fake_unipile() -> AsyncIterator[FakeUnipile]:
    fake = FakeUnipile()
    async with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


class RealProviders:
    """A stack configured for LinkedIn OAuth and the Unipile provider, pointed at fakes."""

    def __init__(self, stack: Stack, linkedin: FakeLinkedIn, unipile: FakeUnipile) -> None:
        self.stack, self.linkedin, self.unipile = stack, linkedin, unipile


@pytest.fixture(scope="module")
async def real_providers(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RealProviders]:
    linkedin, unipile = FakeLinkedIn(), FakeUnipile()
    async with serve(linkedin.app()) as li_url, serve(unipile.app()) as uni_url:
        linkedin.base_url, unipile.base_url = li_url, uni_url
        settings = make_settings(
            temporal_env,
            database_url,
            tmp_path_factory.mktemp("li-real"),
            linkedin_provider="unipile",
            linkedin_client_id=CLIENT_ID,
            linkedin_client_secret=CLIENT_SECRET,
            linkedin_base_url=li_url,
            linkedin_auth_url=li_url + "/oauth/v2/authorization",
            linkedin_token_url=li_url + "/oauth/v2/accessToken",
            linkedin_automation_base_url=uni_url,
            linkedin_automation_api_key=UNIPILE_KEY,
            linkedin_webhook_secret=WEBHOOK_SECRET,
        )
        async with run_stack(temporal_env, settings) as stack:
            unipile.reach = lambda url: rebase(url, stack)
            yield RealProviders(stack, linkedin, unipile)
