"""ConnectionWorkflow: the life of one end user's connected account (app-integrations API).

One entity workflow per OAuth connection, its workflow id the connection id:

1. INITIATED: waits for the ``authorize`` update the OAuth callback sends (a
   sealed code id, never the code), or for the state to expire → FAILED.
2. ACTIVE: sleeps until shortly before the access token expires, refreshes it,
   repeats (continue-as-new keeps the history short).
3. A refresh the provider refuses turns the connection EXPIRED and emits
   ``connection.expired`` instead of failing silently; the workflow ends.

Deleting the connection cancels the workflow. Not a job: it carries no job
search attributes, so it never shows in the jobs list.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from engine.models.connections import (
        CONNECTION_WORKFLOW,
        EVENT_CONNECTION_EXPIRED,
        EXCHANGE_CODE,
        MARK_CONNECTION,
        QUERY_CONNECTION,
        REFRESH_CONNECTION,
        UPDATE_AUTHORIZE,
        AuthorizeInput,
        ConnectionIdInput,
        ConnectionInput,
        ConnectionOutcome,
        ExchangeCodeInput,
        MarkConnectionInput,
    )
    from engine.models.events import EventInput
    from engine.workflows.events import emit_events

CONTINUE_AFTER_REFRESHES = 200
RETRY_LATER = timedelta(minutes=5)
MIN_REFRESH_DELAY = timedelta(seconds=30)


def _activity_options(attempts: int) -> dict[str, Any]:
    return {
        "result_type": ConnectionOutcome,
        "start_to_close_timeout": timedelta(seconds=60),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=60),
            maximum_attempts=attempts,
        ),
    }


@workflow.defn(name=CONNECTION_WORKFLOW)
class ConnectionWorkflow:
    @workflow.init
    def __init__(self, data: ConnectionInput) -> None:
        self._outcome = ConnectionOutcome(status="INITIATED")
        self._authorizing = False
        self._margin = timedelta(seconds=data.refresh_margin_seconds)
        self._refresh_at: datetime | None = None

    def _schedule_refresh(self) -> None:
        """Next refresh by workflow time: ``margin`` before the new token ends (or halfway)."""
        lifetime = self._outcome.expires_in
        if self._outcome.status != "ACTIVE" or lifetime is None:
            self._refresh_at = None
            return
        life = timedelta(seconds=lifetime)
        lead = min(self._margin, life / 2)
        self._refresh_at = workflow.now() + max(life - lead, MIN_REFRESH_DELAY)

    @workflow.query(name=QUERY_CONNECTION)
    def state(self) -> ConnectionOutcome:
        return self._outcome

    @workflow.update(name=UPDATE_AUTHORIZE)
    async def authorize(self, data: AuthorizeInput) -> ConnectionOutcome:
        self._authorizing = True
        connection_id = workflow.info().workflow_id
        try:
            if data.sealed_code_id is None:
                outcome = await workflow.execute_activity(
                    MARK_CONNECTION,
                    MarkConnectionInput(
                        connection_id=connection_id,
                        status="FAILED",
                        reason=f"authorization refused: {data.error or 'unknown'}",
                        only_if="INITIATED",
                    ),
                    **_activity_options(5),
                )
            else:
                outcome = await workflow.execute_activity(
                    EXCHANGE_CODE,
                    ExchangeCodeInput(
                        connection_id=connection_id,
                        sealed_code_id=data.sealed_code_id,
                        redirect_uri=data.redirect_uri,
                    ),
                    **_activity_options(3),
                )
        except ActivityError:
            outcome = await workflow.execute_activity(
                MARK_CONNECTION,
                MarkConnectionInput(
                    connection_id=connection_id,
                    status="FAILED",
                    reason="the token exchange kept failing",
                    only_if="INITIATED",
                ),
                **_activity_options(5),
            )
        self._outcome = outcome
        self._schedule_refresh()
        return outcome

    @authorize.validator
    def _authorize_once(self, data: AuthorizeInput) -> None:
        if self._authorizing or self._outcome.status != "INITIATED":
            raise ValueError("this connection request was already completed")

    @workflow.run
    async def run(self, data: ConnectionInput) -> ConnectionOutcome:
        if data.authorized:
            self._outcome = ConnectionOutcome(status="ACTIVE", expires_in=data.expires_in)
            self._schedule_refresh()
            self._refresh_at = data.refresh_at or self._refresh_at
        else:
            await self._await_authorization(data)
        refreshes = data.refreshes
        while self._outcome.status == "ACTIVE" and self._refresh_at is not None:
            long_history = workflow.info().is_continue_as_new_suggested()
            if refreshes >= CONTINUE_AFTER_REFRESHES or long_history:
                workflow.continue_as_new(
                    data.model_copy(
                        update={
                            "authorized": True,
                            "refresh_at": self._refresh_at,
                            "refreshes": 0,
                        }
                    )
                )
            delay = self._refresh_at - workflow.now()
            if delay > timedelta(0):
                await workflow.sleep(delay)
            try:
                outcome = await workflow.execute_activity(
                    REFRESH_CONNECTION,
                    ConnectionIdInput(connection_id=data.connection_id),
                    **_activity_options(5),
                )
            except ActivityError:
                # The provider or the network is down, not the grant: try again later.
                await workflow.sleep(RETRY_LATER)
                continue
            refreshes += 1
            self._outcome = outcome
            self._schedule_refresh()
            if outcome.status == "EXPIRED":
                await _connection_expired(
                    data.owner_user_id,
                    connection_id=data.connection_id,
                    app_id=data.app_id,
                    end_user_id=data.end_user_id,
                    toolkit=data.toolkit,
                    outcome=outcome,
                )
        return self._outcome

    async def _await_authorization(self, data: ConnectionInput) -> None:
        try:
            await workflow.wait_condition(
                lambda: self._outcome.status != "INITIATED",
                timeout=timedelta(seconds=data.request_ttl_seconds),
            )
            return
        except TimeoutError:
            if self._authorizing:  # the callback arrived just in time: let it finish
                await workflow.wait_condition(lambda: self._outcome.status != "INITIATED")
                return
        self._outcome = await workflow.execute_activity(
            MARK_CONNECTION,
            MarkConnectionInput(
                connection_id=data.connection_id,
                status="FAILED",
                reason="the end user did not complete authorization in time",
                only_if="INITIATED",
            ),
            **_activity_options(5),
        )


async def _connection_expired(
    owner_user_id: str,
    *,
    connection_id: str,
    app_id: str,
    end_user_id: str,
    toolkit: str,
    outcome: ConnectionOutcome,
) -> None:
    """Tell the app's owner that an end user must connect again. The event's id is derived
    from the connection id, so a retried emission is the same event."""
    data = {
        "connectionId": connection_id,
        "appId": app_id,
        "userId": end_user_id,
        "toolkit": toolkit,
        "status": "EXPIRED",
        "reason": outcome.reason,
    }
    await emit_events(
        owner_user_id,
        [EventInput(name=EVENT_CONNECTION_EXPIRED, data=data)],
        source_id=connection_id,
    )
