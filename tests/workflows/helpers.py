"""Helpers for workflow tests: define, execute and wait through the public API."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import WorkflowHistory

from tests.conftest import wait_for

TERMINAL = ("completed", "failed", "cancelled")


def http_step(name: str, url: str, **extra: Any) -> dict[str, Any]:
    config = extra.pop("config", {})
    return {"name": name, "type": "http_request", "config": {"url": url, **config}, **extra}


async def create_workflow(
    api: httpx.AsyncClient, steps: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    body = {"name": extra.pop("name", "wf"), "definition": {"steps": steps, **extra}}
    r = await api.post("/api/v1/workflows", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def execute(
    api: httpx.AsyncClient, workflow_id: str, data: dict[str, Any] | None = None, **headers: str
) -> str:
    r = await api.post(
        f"/api/v1/workflows/{workflow_id}/execute", json={"input": data or {}}, headers=headers
    )
    assert r.status_code == 202, r.text
    return r.json()["executionId"]  # type: ignore[no-any-return]


async def execution(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    r = await api.get(f"/api/v1/executions/{execution_id}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def finished(
    api: httpx.AsyncClient, execution_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = await execution(api, execution_id)
        return body if body["status"] in TERMINAL else None

    return await wait_for(done, timeout=timeout, interval=0.1)  # type: ignore[no-any-return]


def step(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in body["steps"] if s["name"] == name)


def memo_writes(history: WorkflowHistory) -> int:
    """How many times a run upserted its memo (each a visibility write on the server)."""
    return sum(
        1 for e in history.events if e.HasField("workflow_properties_modified_event_attributes")
    )
