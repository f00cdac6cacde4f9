"""A provider's request budget holds across worker processes, not per process: two
``worker.py`` processes enriching with the same Hunter key together keep to its rate."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from engine.models.rate_limits import QUERY_BUDGET, GovernorState, governor_id
from store import lead_repo
from store.lead_fields import clean_fields
from tests.conftest import make_settings, new_user, run_stack, settings_env, wait_for
from tests.fakes.server import serve
from tests.fakes.slack import VALID_TOKEN, FakeSlack
from tests.leads.fake_providers import FakeHunter

ROOT = Path(__file__).resolve().parents[2]
RATE = 8.0  # Hunter requests per second, for every worker together


class Timed(list[Any]):
    """A fake's request list that also notes when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any one second."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, sum(1 for t in ordered[i:] if t < start + 1.0))
    return best


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
async def test_hunter_budget_holds_across_two_worker_processes(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    hunter = FakeHunter(key="shared-hunter-key")
    hunter.requests = Timed()
    async with serve(hunter.app()) as hunter_url:
        settings = make_settings(
            temporal_env,
            database_url,
            tmp_path,
            hunter_base_url=hunter_url + "/v2",
            hunter_requests_per_second=RATE,
            enrichment_http_chunk_size=3,
            task_queue_prefix="pl" + uuid.uuid4().hex[:8],
        )
        env = settings_env(settings)
        workers: list[subprocess.Popen[bytes]] = []
        async with run_stack(temporal_env, settings, with_worker=False) as stack:
            try:
                logs = [tmp_path / f"worker{i}.log" for i in range(2)]
                workers = [start_worker(env, log) for log in logs]

                async def serving() -> bool:
                    return all("serving" in log.read_text() for log in logs if log.exists())

                await wait_for(serving, timeout=60, interval=0.2)
                user_id, key = await new_user(stack)
                tag = uuid.uuid4().hex[:6]
                jobs = []
                async with stack.api(key) as api:
                    for b in range(4):
                        ids = [
                            (
                                await lead_repo.create_lead(
                                    stack.deps.db,
                                    user_id,
                                    clean_fields(
                                        {
                                            "email": f"p{b}.{i}.{tag}@globex.io",
                                            "first_name": "A",
                                            "last_name": "B",
                                        },
                                        region="US",
                                        partial=False,
                                    ),
                                )
                            ).id
                            for i in range(6)
                        ]
                        r = await api.post(
                            "/api/v2/enrichment/batches",
                            json={
                                "leadIds": ids,
                                "providers": ["hunter"],
                                "apiKeys": {"hunter": hunter.key},
                            },
                        )
                        assert r.status_code == 202, r.text
                        jobs.append(r.json()["data"]["jobId"])

                    async def all_done() -> bool:
                        for job_id in jobs:
                            got = await api.get(f"/api/v2/users/jobs/{job_id}")
                            if got.json()["data"]["status"] != "completed":
                                return False
                        return True

                    await wait_for(all_done, timeout=120, interval=0.2)
                identities = set()
                for job_id in jobs:
                    history = await stack.client.get_workflow_handle(job_id).fetch_history()
                    identities |= {
                        e.activity_task_started_event_attributes.identity
                        for e in history.events
                        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
                    }
                governor = await stack.client.get_workflow_handle(
                    governor_id(settings.task_queue_prefix, "hunter", f"key:{hunter.key}")
                ).query(QUERY_BUDGET, result_type=GovernorState)
            finally:
                for process in workers:
                    if process.poll() is None:
                        os.killpg(process.pid, signal.SIGTERM)
                        process.wait(timeout=30)
    times = hunter.requests.times  # type: ignore[attr-defined]
    assert len(times) == 4 * 6 * 2  # a verification and a lookup per lead
    assert len({i.split("@")[0] for i in identities}) == 2, identities  # both processes worked
    # Every request of both processes went through one budget: never more than RATE in a
    # second (plus one for timing jitter at the window's edge), where two processes pacing
    # alone would send twice that.
    assert busiest_second(times) <= RATE + 1, busiest_second(times)
    assert max(times) - min(times) >= (len(times) - 1) / RATE * 0.9
    assert governor.granted >= len(times) and governor.budget.rate == RATE


async def test_slack_messages_keep_to_the_channel_budget(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    """Seven messages at once to one channel: a burst of three, then two a second; another
    channel has its own budget."""
    slack = FakeSlack()
    slack.requests = Timed()
    async with serve(slack.app()) as slack_url:
        settings = make_settings(
            temporal_env,
            database_url,
            tmp_path,
            slack_base_url=slack_url + "/api/",
            slack_messages_per_second=2.0,
            task_queue_prefix="sl" + uuid.uuid4().hex[:8],
        )
        async with run_stack(temporal_env, settings) as stack:
            _user, key = await new_user(stack)
            async with stack.api(key) as api:
                cred = (
                    await api.post(
                        "/api/v1/credentials",
                        json={
                            "name": "bot",
                            "provider": "slack",
                            "data": {"bot_token": VALID_TOKEN},
                        },
                    )
                ).json()

                async def send(channel: str, text: str) -> httpx.Response:
                    return await api.post(
                        "/api/v1/tools/execute",
                        json={
                            "toolName": "SLACK_SEND_MESSAGE",
                            "params": {"channel": channel, "text": text},
                            "credentialId": cred["id"],
                        },
                    )

                sent = await asyncio.gather(*(send("C0GENERAL", f"m{i}") for i in range(7)))
                other_started = time.monotonic()
                other = await send("C0RANDOM", "elsewhere")
                other_took = time.monotonic() - other_started
    assert all(r.status_code == 200 for r in [*sent, other]), [r.text for r in sent]
    general = [
        t
        for t, r in zip(slack.requests.times, slack.requests, strict=True)  # type: ignore[attr-defined]
        if r.form.get("channel") == "C0GENERAL" or (r.json or {}).get("channel") == "C0GENERAL"
    ]
    assert len(general) == 7
    assert busiest_second(general) <= 3 + 2
    assert max(general) - min(general) >= (7 - 3) / 2.0 * 0.9
    assert other_took < 1.5  # not behind C0GENERAL's budget
