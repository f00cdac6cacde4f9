"""LinkedIn sequences benchmark: 1,000 enrollments of a 5-step campaign across 20 sandbox
accounts, provider events for 30 % acceptances and 10 % replies.

Sequence: viewProfile → sendConnectionRequest → waitForAcceptance (7 days) → sendMessage →
wait (3 days). Accounts act with no delay and any time of day, with a daily cap of 40
invitations, so 10 of each account's 50 enrollments wait for tomorrow's slots: the caps
bind, and every governor is checked for holding them.

Reported: time to enroll (create + start through the API, and until every enrollment waits:
invited and waiting for acceptance, or queued at its governor's cap); worker memory with
1,000 and with 5,000 waiting enrollments (4,000 more that open with a 7-day wait); latency
from a provider event (``POST /api/v2/linkedin/sandbox/events``) to the enrollment's next
step (the message sent after an acceptance; the enrollment ended after a reply); history
events per enrollment over every run; cap violations counted per governor and per account.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from bench.harness import BenchStack, bench_stack
from bench.leads import worker_process
from bench.linkedin import connect, governor_events
from engine.services.linkedin import governor_view
from store import campaign_repo, enrollment_repo
from store import linkedin as accounts
from store.db import Database, as_utc

ACCOUNTS = int(os.environ.get("BENCH_SEQ_ACCOUNTS", "20"))
PER_ACCOUNT = int(os.environ.get("BENCH_SEQ_PER_ACCOUNT", "50"))
IDLE_PER_ACCOUNT = int(os.environ.get("BENCH_SEQ_IDLE_PER_ACCOUNT", "0"))
WAITING = int(os.environ.get("BENCH_SEQ_WAITING", "5000"))  # waiting enrollments at the end
INVITE_CAP = 40
SEQUENCE = [
    {"type": "viewProfile"},
    {"type": "sendConnectionRequest", "note": "Hi {{firstName | there}}"},
    {"type": "waitForAcceptance", "days": 7},
    {"type": "sendMessage", "message": "Thanks for connecting, {{firstName | there}}!"},
    {"type": "wait", "days": 3},
]
IDLE = [{"type": "wait", "days": 7}, {"type": "viewProfile"}]
SETTINGS = {
    "workingHours": None,
    "minDelaySeconds": 0,
    "maxDelaySeconds": 0,
    "dailyLimits": {"viewProfile": 1000, "sendConnectionRequest": INVITE_CAP, "sendMessage": 1000},
    "weeklyLimits": {"viewProfile": 5000, "sendConnectionRequest": 200, "sendMessage": 5000},
}


def say(line: str) -> None:
    print(line, flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


async def until(check: Any, timeout: float = 1800.0, every: float = 1.0) -> float:
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > timeout:
            raise RuntimeError("not reached in time")
        await asyncio.sleep(every)
    return time.perf_counter() - started


def rss_mib() -> float:
    return worker_process().memory_info().rss / 2**20


async def launch(
    stack: BenchStack, key: str, name: str, steps: list[dict[str, Any]], slugs: list[str]
) -> tuple[str, float]:
    """Create a campaign with its targets and start it; (campaign id, seconds)."""
    started = time.perf_counter()
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/linkedin/campaigns",
            json={
                "name": name,
                "steps": steps,
                "targets": {
                    "leads": [
                        {"profileUrl": f"https://www.linkedin.com/in/{s}", "firstName": "Ada"}
                        for s in slugs
                    ]
                },
            },
        )
        r.raise_for_status()
        cid = r.json()["data"]["id"]
        r = await api.post(f"/api/v2/linkedin/campaigns/{cid}/start")
        r.raise_for_status()
        assert r.json()["data"]["enrolled"] == len(slugs), r.text
    return cid, time.perf_counter() - started


async def fire(stack: BenchStack, key: str, kind: str, slug: str) -> datetime:
    sent = datetime.now(UTC)
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v2/linkedin/sandbox/events",
            json={"type": kind, "profileUrl": f"https://www.linkedin.com/in/{slug}"},
        )
        r.raise_for_status()
        assert r.json()["data"]["matched"] == 1, r.text
    return sent


async def enrollment_events(stack: BenchStack, enrollment_id: str) -> tuple[int, int]:
    """(events over every run, the longest run)."""
    total = longest = 0
    async for execution in stack.client.list_workflows(f"WorkflowId = '{enrollment_id}'"):
        handle = stack.client.get_workflow_handle(enrollment_id, run_id=execution.run_id)
        events = len((await handle.fetch_history()).events)
        total, longest = total + events, max(longest, events)
    return total, longest


async def run(stack: BenchStack, db: Database) -> None:
    total = ACCOUNTS * PER_ACCOUNT
    say(
        f"{total} enrollments of a {len(SEQUENCE)}-step sequence, {ACCOUNTS} sandbox accounts "
        f"x {PER_ACCOUNT}, invitation cap {INVITE_CAP}/day per account"
    )
    users = [await stack.new_user() for _ in range(ACCOUNTS)]
    gate = asyncio.Semaphore(5)

    async def connected(key: str) -> None:
        async with gate:
            await connect(stack, key, SETTINGS)

    await asyncio.gather(*(connected(k) for _u, k in users))
    slugs = {u: [f"seq-{i}-{j}" for j in range(PER_ACCOUNT)] for i, (u, _k) in enumerate(users)}

    # 1. enroll
    started = time.perf_counter()
    launched = await asyncio.gather(
        *(launch(stack, k, f"bench {u}", SEQUENCE, slugs[u]) for u, k in users)
    )
    enrolled = time.perf_counter() - started
    campaigns = {u: cid for (u, _k), (cid, _s) in zip(users, launched, strict=True)}
    say(
        f"enroll (create + start, {ACCOUNTS} campaigns at once): {enrolled:.1f} s, "
        f"{total / enrolled:.1f} enrollments/s; per campaign p50 "
        f"{statistics.median(s for _c, s in launched):.1f} s"
    )
    invited_target = ACCOUNTS * min(PER_ACCOUNT, INVITE_CAP)

    async def all_waiting() -> bool:
        invited = 0
        for cid in campaigns.values():
            invited += (await enrollment_repo.campaign_counts(db, cid))["invited"]
        return invited >= invited_target

    waited = await until(all_waiting)
    say(
        f"until all {total} wait ({invited_target} invited and waiting for acceptance, the rest "
        f"queued at their governor's cap): {enrolled + waited:.1f} s after the first request"
    )
    await asyncio.sleep(3)
    running_first = (
        await stack.client.count_workflows(
            "TaskyardJobType = 'campaign_enrollment' AND ExecutionStatus = 'Running'"
        )
    ).count
    say(f"worker RSS with {running_first} waiting enrollments: {rss_mib():.0f} MiB")

    # 2. events: 30 % accept, a third of those reply
    rows = {u: await campaign_repo.enrollments(db, cid) for u, cid in campaigns.items()}
    keys = dict(users)
    accepted: list[tuple[str, str, str]] = []  # (user, slug, enrollment id)
    for u, found in rows.items():
        invited = [r for r in found if r.invited_at is not None]
        accepted += [(u, r.profile_slug, r.id) for r in invited[: round(PER_ACCOUNT * 0.3)]]
    sent: dict[str, datetime] = {}
    fire_gate = asyncio.Semaphore(10)

    async def one(u: str, slug: str, eid: str, kind: str) -> None:
        async with fire_gate:
            sent[eid] = await fire(stack, keys[u], kind, slug)

    await asyncio.gather(*(one(u, s, e, "invitation.accepted") for u, s, e in accepted))

    async def messaged() -> bool:
        done = 0
        for cid in campaigns.values():
            done += len(await enrollment_repo.step_times(db, cid, "sendMessage"))
        return done >= len(accepted)

    await until(messaged)
    latencies = []
    for cid in campaigns.values():
        for eid, at in (await enrollment_repo.step_times(db, cid, "sendMessage")).items():
            latencies.append((at - sent[eid]).total_seconds() * 1000)
    say(
        f"acceptance event -> message sent, {len(latencies)} fired at once (each account's "
        f"governor sends one at a time): p50 {pct(latencies, 50):.0f} ms, p95 "
        f"{pct(latencies, 95):.0f} ms, max {max(latencies):.0f} ms"
    )
    # one at a time, one per account: the latency itself, with nothing queued before it
    alone: list[float] = []
    taken = {e for _u, _s, e in accepted}
    for u, found in rows.items():
        spare = next((r for r in found if r.invited_at is not None and r.id not in taken), None)
        if spare is None:
            continue
        at = await fire(stack, keys[u], "invitation.accepted", spare.profile_slug)
        cid = campaigns[u]

        async def sent_one(cid: str = cid, eid: str = spare.id) -> bool:
            return eid in await enrollment_repo.step_times(db, cid, "sendMessage")

        await until(sent_one, every=0.02)
        done_at = (await enrollment_repo.step_times(db, cid, "sendMessage"))[spare.id]
        alone.append((done_at - at).total_seconds() * 1000)
    say(
        f"acceptance event -> message sent, one at a time ({len(alone)} events): p50 "
        f"{pct(alone, 50):.0f} ms, max {max(alone):.0f} ms"
    )
    replying = accepted[::3][: round(total * 0.1)]
    sent.clear()
    await asyncio.gather(*(one(u, s, e, "message.received") for u, s, e in replying))
    ended: dict[str, datetime] = {}

    async def stopped() -> bool:
        for cid in campaigns.values():
            for r in await campaign_repo.enrollments(db, cid, statuses=("replied",)):
                if r.finished_at is not None:
                    ended[r.id] = as_utc(r.finished_at)  # type: ignore[assignment]
        return len(ended) >= len(replying)

    await until(stopped)
    stops = [(ended[e] - sent[e]).total_seconds() * 1000 for _u, _s, e in replying]
    say(
        f"reply event -> enrollment ended ({len(stops)} events): p50 {pct(stops, 50):.0f} ms, "
        f"p95 {pct(stops, 95):.0f} ms, max {max(stops):.0f} ms"
    )

    # 3. history per enrollment (every run), a sample of each kind
    sample = [e for _u, _s, e in accepted[:30]] + [e for _u, _s, e in replying[:30]]
    sample += [r.id for found in rows.values() for r in found if r.accepted_at is None][:40]
    sample = list(dict.fromkeys(sample))
    counts = [await enrollment_events(stack, e) for e in sample]
    events = [c for c, _run in counts]
    say(
        f"history per enrollment ({len(sample)} sampled): mean {statistics.mean(events):.0f} "
        f"events, max {max(events)}; longest run {max(r for _c, r in counts)} "
        "(continue-as-new at 1,000)"
    )

    # 4. caps: the governors' own usage, and the database's count of what ran
    violations = 0
    governor_total = 0
    for u, _k in users:
        account = await accounts.get_account(db, u)
        assert account is not None
        view = await governor_view(stack.client, account.id)
        assert view is not None
        for usage in view.usage.values():
            violations += max(0, usage.last24h - usage.dailyLimit)
            violations += max(0, usage.last7d - usage.weeklyLimit)
        counts_by = await enrollment_repo.campaign_counts(db, campaigns[u])
        violations += max(0, counts_by["invited"] - INVITE_CAP)
        governor_total += await governor_events(stack, account.id)
    say(
        f"caps: {violations} violations across {ACCOUNTS} governors "
        f"(usage per type vs daily/weekly limits, and invitations per account vs {INVITE_CAP}); "
        f"governor history {governor_total} events in all"
    )

    # 5. memory with 5,000 waiting
    query = "TaskyardJobType = 'campaign_enrollment' AND ExecutionStatus = 'Running'"
    running_now = (await stack.client.count_workflows(query)).count
    per_account = max(IDLE_PER_ACCOUNT, -(-(WAITING - running_now) // ACCOUNTS))
    idle_total = ACCOUNTS * per_account
    started = time.perf_counter()
    idle_slugs = {u: [f"idle-{u[:8]}-{j}" for j in range(per_account)] for u, _k in users}
    await asyncio.gather(*(launch(stack, k, f"idle {u}", IDLE, idle_slugs[u]) for u, k in users))
    say(f"enroll {idle_total} more (a 7-day wait first): {time.perf_counter() - started:.1f} s")

    async def idle_started() -> bool:
        return (await stack.client.count_workflows(query)).count >= running_now + idle_total

    await until(idle_started)
    await asyncio.sleep(5)
    running = (await stack.client.count_workflows(query)).count
    say(f"worker RSS with {running} waiting enrollments: {rss_mib():.0f} MiB")


async def main() -> None:
    async with bench_stack(worker_args=["--queue", "linkedin"]) as stack:
        db = Database(stack.settings.database_url)
        try:
            await run(stack, db)
        finally:
            await db.close()
