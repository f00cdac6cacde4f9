"""Fixtures for workflow tests: a loopback server the steps call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.server import serve
from tests.workflows.server import StepTarget


@pytest.fixture
async def steps_target() -> AsyncIterator[StepTarget]:
    target = StepTarget()
    async with serve(target.app()) as base_url:
        target.base_url = base_url
        try:
            yield target
        finally:
            target.release_all()
