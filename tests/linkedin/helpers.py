"""Driving the LinkedIn API the way a member's browser and a client would."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from temporalio.client import Client

from tests.conftest import Stack, wait_for

RETURN_URL = "https://app.example/linkedin-done"


def rebase(url: str, stack: Stack) -> str:
    """URLs Taskyard builds name its public base URL; in tests the API listens elsewhere."""
    parts, base = urlsplit(url), urlsplit(stack.base_url)
    if parts.hostname == "127.0.0.1" and parts.port == stack.settings.api_port:
        return urlunsplit(parts._replace(netloc=base.netloc))
    return url


async def follow(
    stack: Stack, url: str, *, hops: int = 6, browser: httpx.AsyncClient | None = None
) -> httpx.Response:
    """Follow redirects by hand (as a browser would, keeping its cookies) until one leaves
    Taskyard and its fakes."""
    if browser is None:
        async with httpx.AsyncClient() as fresh:
            return await follow(stack, url, hops=hops, browser=fresh)
    for _ in range(hops):
        r = await browser.get(rebase(url, stack))
        location = r.headers.get("location")
        if r.status_code != 302 or not location or location.startswith(RETURN_URL):
            return r
        url = location
    raise AssertionError("too many redirects")


async def open_start(browser: httpx.AsyncClient, stack: Stack, auth_url: str) -> str:
    """Open the start URL in ``browser`` (it keeps the cookie); returns where it redirects."""
    r = await browser.get(rebase(auth_url, stack))
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


async def connect(stack: Stack, key: str, **body: Any) -> httpx.Response:
    """Set up LinkedIn and approve at the consent page; returns the final response."""
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/users/integrations/linkedin", json={"returnUrl": RETURN_URL, **body}
        )
    assert r.status_code == 200, r.text
    return await follow(stack, r.json()["data"]["authUrl"])


async def job(stack: Stack, key: str, job_id: str) -> dict[str, Any]:
    async with stack.api(key) as api:
        r = await api.get(f"/api/v2/users/jobs/{job_id}")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def wait_status(
    stack: Stack, key: str, job_id: str, *statuses: str, timeout: float = 30.0
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        data = await job(stack, key, job_id)
        return data if data["status"] in statuses else None

    result: dict[str, Any] = await wait_for(reached, timeout=timeout, interval=0.1)
    return result


async def fast_settings(stack: Stack, key: str, **extra: Any) -> dict[str, Any]:
    """No pauses between actions and any time of day, so jobs finish at once."""
    async with stack.api(key) as api:
        r = await api.put(
            "/api/v2/linkedin/settings",
            json={"minDelaySeconds": 0, "maxDelaySeconds": 0, "workingHours": None, **extra},
        )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def record_history(client: Client, workflow_id: str, name: str) -> None:
    """With ``TASKYARD_RECORD_HISTORIES=1``, save a workflow's history for replay tests."""
    if not os.environ.get("TASKYARD_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json())
