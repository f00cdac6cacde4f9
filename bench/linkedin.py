"""LinkedIn benchmark: 1,000 actions queued across 20 accounts (sandbox provider).

1. Governed to completion: 20 accounts with no delay between actions; ``POST
   /api/v2/linkedin/actions`` 50 per account, 20 at a time (p50/p99); time until all
   1,000 ran; governor history events per action (every run, across continue-as-new).
2. Scheduling with default pacing (45–150 s between actions, caps; any hour) on 20 other
   accounts: the API's p50/p99, and time from the first request until every governor holds
   all of its account's actions (queued with an expected time, or granted); then raw
   ``client.start_workflow`` of the same ``LinkedInActionWorkflow`` with the same input for
   20 more accounts (the raw side skips auth, validation and the account lookup).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from temporalio.service import RPCError

from bench.harness import BenchStack, bench_stack, compare, measure
from engine.models import queues
from engine.models.jobs import start_attributes, start_memo
from engine.models.linkedin import LinkedInActionInput, LinkedInSettings, governor_id
from engine.services.linkedin import ensure_governor, governor_view
from engine.workflows.linkedin_action import LinkedInActionWorkflow
from store import linkedin as store
from store.db import Database

ACCOUNTS = int(os.environ.get("BENCH_LINKEDIN_ACCOUNTS", "20"))
PER_ACCOUNT = int(os.environ.get("BENCH_LINKEDIN_PER_ACCOUNT", "50"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "20"))
MANY = {"viewProfile": 10_000}


async def connect(stack: BenchStack, key: str, settings: dict[str, Any]) -> None:
    """Sandbox sign-in as a browser would do it, then the account's settings."""
    async with stack.api(key) as api:
        r = await api.post("/api/v2/users/integrations/linkedin", json={})
        r.raise_for_status()
        url = r.json()["data"]["authUrl"]
        async with httpx.AsyncClient() as browser:
            for _ in range(3):
                hop = await browser.get(url)
                if hop.status_code != 302:
                    break
                url = hop.headers["location"]
        assert hop.status_code == 200 and hop.json()["success"], hop.text
        r = await api.put("/api/v2/linkedin/settings", json=settings)
        r.raise_for_status()


async def accounts(stack: BenchStack, settings: dict[str, Any]) -> list[tuple[str, str]]:
    users = [await stack.new_user() for _ in range(ACCOUNTS)]
    gate = asyncio.Semaphore(5)

    async def one(key: str) -> None:
        async with gate:
            await connect(stack, key, settings)

    await asyncio.gather(*(one(key) for _user, key in users))
    return users


def spread(
    users: list[tuple[str, str]], call: Callable[[str, str, int], Awaitable[None]]
) -> Callable[[int], Awaitable[None]]:
    """Call ``i`` goes to account ``i % ACCOUNTS``, so all accounts fill at once."""

    async def one(i: int) -> None:
        user_id, key = users[i % len(users)]
        await call(user_id, key, i)

    return one


async def governor_events(stack: BenchStack, account_id: str) -> int:
    """Events in every run of an account's governor, following continue-as-new."""
    handle = stack.client.get_workflow_handle(governor_id(account_id))
    first = await anext(aiter(handle.fetch_history_events()))
    run_id = first.workflow_execution_started_event_attributes.first_execution_run_id
    total = 0
    while run_id:
        events = [
            e
            async for e in stack.client.get_workflow_handle(
                governor_id(account_id), run_id=run_id
            ).fetch_history_events()
        ]
        total += len(events)
        attrs = events[-1].workflow_execution_continued_as_new_event_attributes
        run_id = (
            attrs.new_execution_run_id
            if events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    return total


async def account_ids(db: Database, users: list[tuple[str, str]]) -> list[str]:
    found = [await store.get_account(db, user_id) for user_id, _key in users]
    return [a.id for a in found if a is not None]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 1800.0) -> float:
    """Poll gently (a loaded worker answers queries slowly); a slow answer is not an end."""
    started = time.perf_counter()
    while True:
        try:
            if await check():
                return time.perf_counter()
        except RPCError:
            pass
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the governors did not get there in time")
        await asyncio.sleep(2.0)


def say(line: str) -> None:
    print(line, flush=True)  # as each phase ends: a slow machine still shows what it measured


async def run(stack: BenchStack, db: Database) -> None:
    total = ACCOUNTS * PER_ACCOUNT
    paced = {"workingHours": None}
    fast = {
        "workingHours": None,
        "minDelaySeconds": 0,
        "maxDelaySeconds": 0,
        "dailyLimits": MANY,
        "weeklyLimits": MANY,
    }
    api_users, raw_users, run_users = (
        await accounts(stack, paced),
        await accounts(stack, paced),
        await accounts(stack, fast),
    )
    queue = queues.task_queue(stack.settings.task_queue_prefix, queues.LINKEDIN)
    profile = "https://www.linkedin.com/in/bench-member-{}"
    say(
        f"{total} viewProfile actions, {ACCOUNTS} accounts x {PER_ACCOUNT}, "
        f"{CONCURRENCY} requests at a time, sandbox provider"
    )

    raw_accounts = dict(
        zip([u for u, _k in raw_users], await account_ids(db, raw_users), strict=True)
    )
    for account_id in raw_accounts.values():
        await ensure_governor(
            stack.client,
            account_id=account_id,
            settings=LinkedInSettings(working_hours=None),
            queue=queue,
        )

    async def raw(user_id: str, _key: str, i: int) -> None:
        await stack.client.start_workflow(
            LinkedInActionWorkflow.run,
            LinkedInActionInput(
                user_id=user_id,
                account_id=raw_accounts[user_id],
                action_type="viewProfile",
                profile_url=profile.format(i),
            ),
            id="job_raw_" + uuid.uuid4().hex,
            task_queue=queue,
            search_attributes=start_attributes(user_id, "linkedin_action"),
            memo=start_memo("Queued", {"actionType": "viewProfile"}),
        )

    async def all_held(ids: list[str], expected: int) -> bool:
        views = [await governor_view(stack.client, a) for a in ids]
        return all(
            v is not None and v.queued + v.totals.get("granted", 0) == expected for v in views
        )

    clients = {key: stack.fast(key) for _u, key in [*api_users, *run_users]}
    for client in clients.values():
        await client.__aenter__()
    try:

        async def via_api(_user: str, key: str, i: int) -> None:
            status, body = await clients[key].post(
                "/api/v2/linkedin/actions",
                {"actionType": "viewProfile", "profileUrl": profile.format(i)},
            )
            assert status == 202, body

        # 1: run 1,000 to completion through 20 governors with no pacing (first, while
        # nothing else waits in any governor).
        run_ids = await account_ids(db, run_users)
        started = time.perf_counter()
        run_stats = await measure(total, CONCURRENCY, spread(run_users, via_api))
        say(run_stats.line("API POST (no-delay accounts)"))
        done = await until(lambda: _completed(stack, run_users, total)) - started
        say(
            f"until all {total} ran (no delay, {ACCOUNTS} governors in parallel): "
            f"{done:.1f} s, {total / done:.1f} actions/s"
        )
        events = sum([await governor_events(stack, a) for a in run_ids])
        views = [await governor_view(stack.client, a) for a in run_ids]
        runs = sum(v.runs for v in views if v is not None)
        say(
            f"governor history to completion: {events} events in {runs} runs, "
            f"{events / total:.1f} per action"
        )

        # 2: schedule with default pacing, then wait until every governor holds its actions;
        # and raw starts for the same number, on other accounts.
        api_ids = await account_ids(db, api_users)
        started = time.perf_counter()
        api_stats = await measure(total, CONCURRENCY, spread(api_users, via_api))
        say(api_stats.line("API POST /linkedin/actions"))
        scheduled = await until(lambda: all_held(api_ids, PER_ACCOUNT)) - started
        say(
            f"until all {total} held by their governors (paced): {scheduled:.1f} s "
            f"after the first request"
        )
        events = sum([await governor_events(stack, a) for a in api_ids])
        say(f"governor history while scheduling: {events} events, {events / total:.1f} per action")
        raw_stats = await measure(total, CONCURRENCY, spread(raw_users, raw))
        say(raw_stats.line("raw start_workflow"))
        say(compare("scheduling", api_stats, raw_stats))
    finally:
        for client in clients.values():
            await client.__aexit__(None, None, None)


async def _completed(stack: BenchStack, users: list[tuple[str, str]], expected: int) -> bool:
    """One visibility count for all the accounts' finished jobs."""
    ids = ", ".join(f"'{u}'" for u, _k in users)
    query = (
        f"TaskyardJobType = 'linkedin_action' AND ExecutionStatus = 'Completed' "
        f"AND TaskyardUserId IN ({ids})"
    )
    return (await stack.client.count_workflows(query)).count >= expected


async def main() -> None:
    async with bench_stack(worker_args=["--queue", "linkedin"]) as stack:
        db = Database(stack.settings.database_url)
        try:
            await run(stack, db)
        finally:
            await db.close()
