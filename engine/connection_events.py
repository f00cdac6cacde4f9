"""Workflow-side: the one place a connection's expiry becomes an event.

``connection.expired`` goes to the owner's webhook endpoints through
``engine.events.emit_events`` (a local activity on the emitting worker). Its id
is derived from the connection id, so a retried emission is the same event.
"""

from __future__ import annotations

from temporalio import workflow

from engine.events import EventInput, emit_events

with workflow.unsafe.imports_passed_through():
    from activities.connections import ConnectionOutcome

EVENT_CONNECTION_EXPIRED = "connection.expired"


async def connection_expired(
    owner_user_id: str, *, connection_id: str, app_id: str, end_user_id: str, toolkit: str,
    outcome: ConnectionOutcome,
) -> None:
    """Tell the app's owner that an end user must connect again."""
    data = {
        "connectionId": connection_id,
        "appId": app_id,
        "userId": end_user_id,
        "toolkit": toolkit,
        "status": "EXPIRED",
        "reason": outcome.reason,
    }
    await emit_events(owner_user_id, [EventInput(name=EVENT_CONNECTION_EXPIRED, data=data)],
                      source_id=connection_id)
