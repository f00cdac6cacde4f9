"""What an account's governor does when the provider restricts or disconnects the account:
pause the account's running campaigns (an activity: the database, then one batch signal to
their enrollments) and tell the owner with ``linkedin.account.restricted``.

Workflow code: only call from inside the governor.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from engine.models.events import EventInput, event_id_for
    from engine.models.linkedin import (
        PAUSE_ACCOUNT_CAMPAIGNS,
        AccountStatusChange,
        PauseCampaignsInput,
        PauseCampaignsOutput,
    )
    from engine.workflows.events import emit_events

EVENT = "linkedin.account.restricted"
PAUSE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
)


async def announce_restriction(account_id: str, notice: AccountStatusChange) -> None:
    reason = notice.reason or notice.status
    paused: list[str] = []
    try:
        out: PauseCampaignsOutput = await workflow.execute_activity(
            PAUSE_ACCOUNT_CAMPAIGNS,
            PauseCampaignsInput(
                user_id=notice.user_id,
                account_id=account_id,
                reason=f"the LinkedIn account is {reason}",
            ),
            result_type=PauseCampaignsOutput,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=PAUSE_RETRY,
        )
        paused = out.campaigns
    except ActivityError as err:
        workflow.logger.error("campaigns of %s not paused: %s", account_id, err)
    await emit_events(
        notice.user_id,
        [
            EventInput(
                name=EVENT,
                id=event_id_for(notice.event_id, EVENT),
                data={
                    "accountId": account_id,
                    "status": notice.status,
                    "reason": reason,
                    "pausedCampaigns": paused,
                    "at": notice.at.isoformat() if notice.at else None,
                },
            )
        ],
    )
