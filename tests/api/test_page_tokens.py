"""Page tokens are opaque and signed: a forged, altered or foreign token is refused at once,
before any Temporal or database call, on every paginated listing."""

from __future__ import annotations

import base64
import time

from tests.api.test_jobs import _run
from tests.conftest import Stack, new_user, wait_for
from tests.webhooks.helpers import create_hook

FORGED = ["0w==", "AAAA", base64.urlsafe_b64encode(b"x" * 40).decode(), "%%%", "a" * 4000]


async def _timed_get(api, path: str, params: dict) -> tuple[int, dict, float]:
    began = time.perf_counter()
    r = await api.get(path, params=params)
    return r.status_code, r.json(), time.perf_counter() - began


async def test_forged_and_foreign_job_tokens_are_refused_at_once(stack: Stack, target) -> None:
    _a, key_a = await new_user(stack, ["users:read", "tools:execute"])
    _b, key_b = await new_user(stack, ["users:read", "tools:execute"])
    for _ in range(3):
        await _run(stack, key_a, target.base_url + "/echo")
    async with stack.api(key_a) as api:

        async def first_page() -> dict | None:
            data = (await api.get("/api/v2/users/jobs", params={"limit": 2})).json()["data"]
            return data if data["pagination"]["hasMore"] else None

        token = (await wait_for(first_page))["pagination"]["nextPageToken"]
        for forged in FORGED:
            status, body, took = await _timed_get(api, "/api/v2/users/jobs", {"pageToken": forged})
            assert status == 400 and body["code"] == "INVALID_QUERY", (forged, body)
            assert took < 1.0, (forged, took)  # no visibility call was made (it took seconds)
        # The same token with another query (another status filter) is not this listing's.
        status, _body, _ = await _timed_get(
            api, "/api/v2/users/jobs", {"pageToken": token, "status": "failed", "limit": 2}
        )
        assert status == 400
        # An altered token fails its signature.
        altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        status, _body, _ = await _timed_get(api, "/api/v2/users/jobs", {"pageToken": altered})
        assert status == 400
        ok, body, _ = await _timed_get(api, "/api/v2/users/jobs", {"pageToken": token, "limit": 2})
        assert ok == 200 and len(body["data"]["jobs"]) == 1
    async with stack.api(key_b) as api:  # another user's token
        status, _body, _ = await _timed_get(
            api, "/api/v2/users/jobs", {"pageToken": token, "limit": 2}
        )
        assert status == 400


async def test_forged_execution_tokens_are_refused(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        for forged in FORGED[:3]:
            status, body, took = await _timed_get(api, "/api/v1/executions", {"pageToken": forged})
            assert status == 400, body
            assert took < 1.0


async def test_forged_delivery_cursors_are_refused(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(api, target.base_url + "/hook", ["lead.created"])
        path = f"/api/v1/webhooks/{hook['id']}/deliveries"
        old_style = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|whd_x").decode()
        for forged in [*FORGED[:3], old_style]:
            status, body, _ = await _timed_get(api, path, {"cursor": forged})
            assert status == 400, (forged, body)
