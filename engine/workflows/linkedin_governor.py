"""LinkedInGovernorWorkflow: one long-lived entity workflow per LinkedIn account.

It owns the account's schedule. Actions ask it for a slot; it grants one action
at a time, never outside the working hours, never beyond the rolling daily and
weekly caps per action type, after a randomized human-like delay since the last
action finished, and not while the account is paused (after LinkedIn reported a
limit or a challenge, with growing back-off). Waiting actions are told when they
are expected to run, and told again when that moves. History stays short:
the governor continues as new, carrying its whole state, once a run's history
reaches ``history_limit`` events.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.models.linkedin import (
        GOVERNOR_WORKFLOW,
        QUERY_VIEW,
        SIGNAL_ACCOUNT_STATUS,
        SIGNAL_DISCONNECT,
        SIGNAL_ENQUEUE,
        SIGNAL_RELEASE,
        SIGNAL_SLOT,
        SIGNAL_WITHDRAW,
        UPDATE_CONFIGURE,
        AccountStatusChange,
        GovernorInput,
        GovernorState,
        GovernorView,
        Lease,
        LinkedInSettings,
        Queued,
        Release,
        SlotMessage,
        SlotRequest,
        UsageView,
        Withdraw,
    )
    from engine.workflows.linkedin_restriction import announce_restriction
    from engine.workflows.linkedin_schedule import (
        WEEK,
        describe_wait,
        earliest,
        is_open,
        usage,
    )

LIMIT_BACKOFF = (timedelta(hours=1), timedelta(hours=24))
CHALLENGE_BACKOFF = (timedelta(hours=24), timedelta(days=7))
ANNOUNCE_SLACK = timedelta(minutes=5)


def _backoff(strikes: int, bounds: tuple[timedelta, timedelta]) -> timedelta:
    first, cap = bounds
    return min(cap, first * (2 ** max(0, strikes - 1)))


@workflow.defn(name=GOVERNOR_WORKFLOW)
class LinkedInGovernorWorkflow:
    @workflow.init
    def __init__(self, data: GovernorInput) -> None:
        self.input = data
        self.s: GovernorState = data.state or GovernorState(settings=data.settings)
        self.s.runs = (data.state.runs + 1) if data.state else 1
        self._wake = False
        self._replan = True
        self._sending = 0
        self._alarm: asyncio.Task[None] | None = None
        self._alarm_at: datetime | None = None
        self._notifying = False

    # ---- handlers --------------------------------------------------------------------

    @workflow.signal(name=SIGNAL_ENQUEUE)
    def enqueue(self, req: SlotRequest) -> None:
        if any(q.job_id == req.job_id for q in self.s.queue) or (
            self.s.lease is not None and self.s.lease.job_id == req.job_id
        ):
            return  # a repeated signal
        self.s.seq += 1
        self.s.queue.append(
            Queued(
                job_id=req.job_id,
                action_type=req.action_type,
                seq=self.s.seq,
                enqueued_at=workflow.now(),
                not_before=req.not_before,
                ticket=req.ticket,
            )
        )
        self._touch(replan=True)

    @workflow.signal(name=SIGNAL_RELEASE)
    def release(self, rel: Release) -> None:
        lease = self.s.lease
        if lease is None or lease.job_id != rel.job_id:
            return  # the lease already expired; its grant stays counted
        now = workflow.now()
        self.s.lease = None
        self._count(rel.outcome)
        if rel.outcome in ("limit", "challenge"):
            self._uncount(lease)  # LinkedIn refused it: it did not happen
            self._pause(rel, now)
        else:
            self.s.limit_strikes = self.s.challenge_strikes = 0
        if rel.requeue:
            self.s.queue.append(
                Queued(
                    job_id=lease.job_id,
                    action_type=lease.action_type,
                    seq=lease.seq,
                    enqueued_at=now,
                    ticket=lease.ticket,
                )
            )
        self._finished(now)
        self._touch(replan=True)

    @workflow.signal(name=SIGNAL_WITHDRAW)
    def withdraw(self, w: Withdraw) -> None:
        """A waiting action was cancelled: its slot is free and it never runs."""
        before = len(self.s.queue)
        self.s.queue = [q for q in self.s.queue if q.job_id != w.job_id]
        lease = self.s.lease
        if lease is not None and lease.job_id == w.job_id:
            self.s.lease = None  # granted but cancelled before it started
            self._uncount(lease)
            self._count("cancelled")
        elif len(self.s.queue) < before:
            self._count("cancelled")
        self._touch(replan=True)

    @workflow.signal(name=SIGNAL_DISCONNECT)
    def disconnect(self) -> None:
        for q in self.s.queue:
            self.s.outbox.append(
                SlotMessage(
                    kind="reject",
                    job_id=q.job_id,
                    message="The LinkedIn account was disconnected before this action ran",
                    ticket=q.ticket,
                )
            )
            self._count("rejected")
        self.s.queue = []
        self._touch(replan=True)

    @workflow.signal(name=SIGNAL_ACCOUNT_STATUS)
    def account_status(self, change: AccountStatusChange) -> None:
        """The provider restricted or disconnected the account (nothing is granted; its
        campaigns are paused and the owner told), or reports it running again."""
        restricted = change.status != "running"
        if restricted == self.s.restricted:
            return  # a repeated report: only a change of state acts
        self.s.restricted = restricted
        self.s.restriction_reason = (change.reason or change.status) if restricted else None
        if restricted:
            self.s.notices.append(change)
        self._touch(replan=True)

    @workflow.update(name=UPDATE_CONFIGURE)
    def configure(self, settings: LinkedInSettings) -> LinkedInSettings:
        self.s.settings = settings
        self._touch(replan=True)
        return settings

    @workflow.query(name=QUERY_VIEW)
    def view(self) -> GovernorView:
        now = workflow.now()
        st = self.s.settings
        by_type: dict[str, int] = {}
        for q in self.s.queue:
            by_type[q.action_type] = by_type.get(q.action_type, 0) + 1
        views: dict[str, UsageView] = {}
        for action_type in st.daily_limits:
            day, week = usage(self.s.grants.get(action_type, []), now)
            views[action_type] = UsageView(
                last24h=day,
                last7d=week,
                dailyLimit=st.daily_limits[action_type],
                weeklyLimit=st.weekly_limits[action_type],
            )
        choice = None if self.s.lease else self._choose(now)
        return GovernorView(
            accountId=self.input.account_id,
            queued=len(self.s.queue),
            queuedByType=by_type,
            running=self.s.lease.job_id if self.s.lease else None,
            pausedUntil=self.s.paused_until if self._paused(now) else None,
            pauseReason=self.s.pause_reason if self._paused(now) else None,
            nextSlotAt=choice[1] if choice else None,
            usage=views,
            totals=dict(self.s.totals),
            runs=self.s.runs,
            historyLength=workflow.info().get_current_history_length(),
            restricted=self.s.restricted,
            restrictionReason=self.s.restriction_reason,
        )

    # ---- the loop --------------------------------------------------------------------

    @workflow.run
    async def run(self, data: GovernorInput) -> None:
        while True:
            now = workflow.now()
            self._expire_lease(now)
            self._prune(now)
            wake_at: datetime | None = None
            if self.s.lease is None:
                choice = self._choose(now)
                if choice is not None and choice[1] <= now:
                    self._grant(choice[0], now)
                    continue
                wake_at = choice[1] if choice else None
            else:
                wake_at = self.s.lease.expires_at
            if self._replan:
                self._announce(now)
            self._flush()
            if self.s.notices and not self._notifying:
                self._notifying = True
                asyncio.create_task(self._notify())  # noqa: RUF006 (tracked by _notifying)
            if (
                self._history_full()
                and self._sending == 0
                and not self._notifying
                and workflow.all_handlers_finished()
            ):
                self._set_alarm(None, now)
                workflow.continue_as_new(
                    GovernorInput(
                        account_id=data.account_id,
                        settings=self.s.settings,
                        state=self.s,
                        history_limit=data.history_limit,
                        lease_seconds=data.lease_seconds,
                        max_concurrent_signals=data.max_concurrent_signals,
                    )
                )
            self._set_alarm(wake_at, now)
            self._wake = False
            await workflow.wait_condition(lambda: self._wake)

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() >= self.input.history_limit
            or info.is_continue_as_new_suggested()
        )

    def _set_alarm(self, at: datetime | None, now: datetime) -> None:
        """One timer for the next moment something is due; replaced only when that moves."""
        if at == self._alarm_at and (self._alarm is None or not self._alarm.done()):
            return
        if self._alarm is not None and not self._alarm.done():
            self._alarm.cancel()
        self._alarm, self._alarm_at = None, at
        if at is not None:
            self._alarm = asyncio.create_task(self._ring(at - now))

    async def _ring(self, after: timedelta) -> None:
        await workflow.sleep(max(after, timedelta(milliseconds=1)))
        self._alarm_at = None
        self._touch()

    def _touch(self, *, replan: bool = False) -> None:
        self._wake = True
        self._replan = self._replan or replan

    # ---- decisions -------------------------------------------------------------------

    def _paused(self, now: datetime) -> bool:
        return self.s.paused_until is not None and self.s.paused_until > now

    def _free_at(self, now: datetime) -> datetime:
        """When the delay since the last action has passed (and any pause is over)."""
        at = now
        if self.s.last_finished_at is not None:
            at = max(at, self.s.last_finished_at + timedelta(milliseconds=self.s.next_gap_ms))
        paused = self.s.paused_until
        if paused is not None and paused > at:
            at = paused
        return at

    def _slot(self, q: Queued, free: datetime, grants: list[datetime]) -> datetime | None:
        st = self.s.settings
        start = max(free, q.not_before) if q.not_before else free
        return earliest(
            start,
            grants=grants,
            daily=st.daily_limits.get(q.action_type, 0),
            weekly=st.weekly_limits.get(q.action_type, 0),
            hours=st.working_hours,
        )

    @staticmethod
    def _order(q: Queued) -> tuple[datetime, int]:
        """Within a type: earliest not-before first, then first come."""
        return (q.not_before or datetime.min.replace(tzinfo=q.enqueued_at.tzinfo), q.seq)

    def _heads(self, queue: list[Queued]) -> list[Queued]:
        heads: dict[str, Queued] = {}
        for q in queue:
            h = heads.get(q.action_type)
            if h is None or self._order(q) < self._order(h):
                heads[q.action_type] = q
        return list(heads.values())

    def _pick(
        self, heads: list[Queued], free: datetime, grants: dict[str, list[datetime]]
    ) -> tuple[Queued, datetime] | None:
        best: tuple[Queued, datetime] | None = None
        for head in heads:
            at = self._slot(head, free, grants.get(head.action_type, []))
            if at is not None and (best is None or (at, head.seq) < (best[1], best[0].seq)):
                best = (head, at)
        return best

    def _choose(self, now: datetime) -> tuple[Queued, datetime] | None:
        if self.s.restricted:
            return None
        return self._pick(self._heads(self.s.queue), self._free_at(now), self.s.grants)

    def _grant(self, q: Queued, now: datetime) -> None:
        self.s.queue.remove(q)
        delay_ms = self.s.next_gap_ms if self.s.last_finished_at is not None else 0
        self.s.grants.setdefault(q.action_type, []).append(now)
        self.s.lease = Lease(
            job_id=q.job_id,
            action_type=q.action_type,
            seq=q.seq,
            granted_at=now,
            expires_at=now + timedelta(seconds=self.input.lease_seconds),
            delay_ms=delay_ms,
            ticket=q.ticket,
        )
        self._count("granted")
        self.s.outbox.append(
            SlotMessage(
                kind="grant",
                job_id=q.job_id,
                at=now,
                delay_ms=delay_ms,
                message="Slot granted",
                ticket=q.ticket,
            )
        )

    def _announce(self, now: datetime) -> None:
        """Tell waiting actions when they should run, when that is new or has moved."""
        self._replan = False
        if self.s.restricted:
            self._tell_restricted()
            return
        groups: dict[str, list[Queued]] = {}
        for q in self.s.queue:
            groups.setdefault(q.action_type, []).append(q)
        for items in groups.values():
            items.sort(key=self._order, reverse=True)  # next one last, for pop()
        grants = {k: list(v) for k, v in self.s.grants.items()}
        st = self.s.settings
        mean_gap = timedelta(seconds=(st.min_delay_seconds + st.max_delay_seconds) / 2)
        free = self._free_at(now)
        if self.s.lease is not None:
            free = max(free, now + mean_gap)
        position = 0
        while groups:
            pick = self._pick([items[-1] for items in groups.values()], free, grants)
            if pick is None:  # every remaining type is switched off (a limit of 0)
                for items in groups.values():
                    for q in items:
                        self._tell(q, None, now, position)
                return
            q, at = pick
            groups[q.action_type].pop()
            if not groups[q.action_type]:
                del groups[q.action_type]
            self._tell(q, at, now, position)
            grants.setdefault(q.action_type, []).append(at)
            free = at + mean_gap
            position += 1

    def _tell(self, q: Queued, at: datetime | None, now: datetime, ahead: int) -> None:
        if at is None:
            if q.announced_blocked:
                return
            q.announced, q.announced_blocked = None, True
            self._eta(
                q,
                f"Waiting: {q.action_type} is switched off in the LinkedIn settings "
                "(its daily or weekly limit is 0)",
            )
            return
        if q.announced is not None and not q.announced_blocked:
            slack = max(ANNOUNCE_SLACK, (at - now) / 10)
            if abs(at - q.announced) <= slack:
                return
        q.announced, q.announced_blocked = at, False
        hours = self.s.settings.working_hours
        if self._paused(now):
            why = f"the account is paused: {self.s.pause_reason}"
        elif not is_open(now, hours):
            why = "outside working hours"
        else:
            why = f"{ahead} action(s) ahead of it" if ahead else "pacing since the last action"
        when = describe_wait(at, hours)
        self._eta(q, f"Waiting for a slot: expected to run around {when} ({why})", at=at)

    def _eta(self, q: Queued, message: str, *, at: datetime | None = None) -> None:
        self.s.outbox.append(
            SlotMessage(kind="eta", job_id=q.job_id, at=at, message=message, ticket=q.ticket)
        )

    def _tell_restricted(self) -> None:
        for q in self.s.queue:
            if q.announced_blocked:
                continue
            q.announced, q.announced_blocked = None, True
            self._eta(
                q,
                f"Waiting: the LinkedIn account is {self.s.restriction_reason}; "
                "actions resume once the provider reports it running again",
            )

    async def _notify(self) -> None:
        """Pause the account's campaigns and tell the owner, once per restriction."""
        try:
            while self.s.notices:
                await announce_restriction(self.input.account_id, self.s.notices[0])
                self.s.notices.pop(0)
        finally:
            self._notifying = False
            self._touch()

    # ---- bookkeeping -----------------------------------------------------------------

    def _pause(self, rel: Release, now: datetime) -> None:
        if rel.outcome == "limit":
            self.s.limit_strikes += 1
            wait = (
                timedelta(seconds=rel.retry_after_seconds)
                if rel.retry_after_seconds
                else _backoff(self.s.limit_strikes, LIMIT_BACKOFF)
            )
            what = "LinkedIn reported a limit"
        else:
            self.s.challenge_strikes += 1
            wait = _backoff(self.s.challenge_strikes, CHALLENGE_BACKOFF)
            what = "LinkedIn asked for a security check"
        until = now + wait
        if self.s.paused_until is None or until > self.s.paused_until:
            self.s.paused_until = until
        self.s.pause_reason = f"{what}: {rel.reason}" if rel.reason else what

    def _finished(self, now: datetime) -> None:
        st = self.s.settings
        self.s.last_finished_at = now
        gap = workflow.random().uniform(st.min_delay_seconds, st.max_delay_seconds)
        self.s.next_gap_ms = round(gap * 1000)

    def _expire_lease(self, now: datetime) -> None:
        lease = self.s.lease
        if lease is not None and lease.expires_at <= now:
            workflow.logger.warning("lease for %s expired; freeing the slot", lease.job_id)
            self.s.lease = None
            self._count("expired")
            self._finished(now)
            self._replan = True

    def _uncount(self, lease: Lease) -> None:
        times = self.s.grants.get(lease.action_type, [])
        if lease.granted_at in times:
            times.remove(lease.granted_at)

    def _prune(self, now: datetime) -> None:
        for action_type, times in list(self.s.grants.items()):
            kept = [t for t in times if t > now - WEEK]
            if kept:
                self.s.grants[action_type] = kept
            else:
                del self.s.grants[action_type]

    def _count(self, key: str) -> None:
        self.s.totals[key] = self.s.totals.get(key, 0) + 1

    def _flush(self) -> None:
        if self._history_full():
            return  # let the signals in flight land, then continue as new; the outbox carries
        room = self.input.max_concurrent_signals - self._sending
        while self.s.outbox and room > 0:
            msg = self.s.outbox.pop(0)
            self._sending += 1
            room -= 1
            asyncio.create_task(self._send(msg))  # noqa: RUF006 (tracked by _sending)

    async def _send(self, msg: SlotMessage) -> None:
        try:
            await workflow.get_external_workflow_handle(msg.job_id).signal(SIGNAL_SLOT, msg)
        except Exception:
            # the action is gone (finished, terminated): forget it and free what it held
            self.withdraw(Withdraw(job_id=msg.job_id))
        finally:
            self._sending -= 1
            self._touch()
