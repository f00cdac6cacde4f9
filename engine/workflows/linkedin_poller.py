"""LinkedInPollerWorkflow: for an account whose provider has no webhooks (the sandbox), look
for invitations accepted and replies received, and report them as provider events.

One per account, id ``linkedin-poller-<account id>``, on the ``linkedin`` queue, not a job.
Each poll is one activity that reports what is due and says when the next answer is due;
the poller sleeps until then (at most ``max_interval_seconds``), or until an enrollment
pokes it after sending an invitation or a message. It continues as new every
``iterations`` polls, so its history stays short.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from engine.models.campaigns import (
        POLL_LINKEDIN_EVENTS,
        POLLER_WORKFLOW,
        SIGNAL_POKE,
        PollerInput,
        PollInput,
        PollOutput,
    )

POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=0,
)


@workflow.defn(name=POLLER_WORKFLOW)
class LinkedInPollerWorkflow:
    def __init__(self) -> None:
        self._poked = False
        self._next: datetime | None = None

    @workflow.signal(name=SIGNAL_POKE)
    def poke(self) -> None:
        self._poked = True

    @workflow.query(name="next_poll")
    def next_poll(self) -> datetime | None:
        return self._next

    @workflow.run
    async def run(self, data: PollerInput) -> None:
        for _ in range(data.iterations):
            self._poked = False
            now = workflow.now()
            out: PollOutput = await workflow.execute_activity(
                POLL_LINKEDIN_EVENTS,
                PollInput(account_id=data.account_id, now=now),
                result_type=PollOutput,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=POLL_RETRY,
            )
            now = workflow.now()
            wake = now + timedelta(seconds=data.max_interval_seconds)
            if out.next_due is not None:
                wake = min(wake, out.next_due)
            self._next = wake
            if self._poked:
                continue  # poked while polling: look again at once
            try:
                await workflow.wait_condition(
                    lambda: self._poked, timeout=max(wake - now, timedelta(seconds=1))
                )
            except TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(data)
