"""Fixtures for fair-share tests: the workflow tests' loopback step server, and an
operator's change of one user's weight and quotas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.fakes.server import serve
from tests.workflows.server import StepTarget


@pytest.fixture
async def steps_target() -> AsyncIterator[StepTarget]:
    """A loopback server with held routes (``/hold/{key}`` until released)."""
    target = StepTarget()
    async with serve(target.app()) as base_url:
        target.base_url = base_url
        try:
            yield target
        finally:
            target.release_all()


async def set_limits(stack: Stack, user_id: str, **body: Any) -> httpx.Response:
    """``PATCH /api/v2/users/{id}`` with the admin key (an operator's act)."""
    async with stack.admin as admin:
        return await admin.patch(f"/api/v2/users/{user_id}", json=body)
