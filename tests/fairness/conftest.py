"""Fixtures for fair-share tests: the workflow tests' loopback step server, and an
operator's change of one user's weight and quotas."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Stack
from tests.workflows.conftest import steps_target as steps_target


async def set_limits(stack: Stack, user_id: str, **body: Any) -> httpx.Response:
    """``PATCH /api/v2/users/{id}`` with the admin key (an operator's act)."""
    async with stack.admin as admin:
        return await admin.patch(f"/api/v2/users/{user_id}", json=body)
