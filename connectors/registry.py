"""The one place connectors are listed. A new connector is one module plus one line here."""

from __future__ import annotations

from connectors import discord, gmail, google_calendar, http, hunter, pdl, slack, smtp, stripe
from connectors.base import Action, Connector

CONNECTORS: dict[str, Connector] = {
    c.type: c
    for c in (
        http.CONNECTOR,
        slack.CONNECTOR,
        smtp.CONNECTOR,
        stripe.CONNECTOR,
        discord.CONNECTOR,
        gmail.CONNECTOR,
        google_calendar.CONNECTOR,
        hunter.CONNECTOR,
        pdl.CONNECTOR,
    )
}


def get_connector(connector_type: str) -> Connector | None:
    return CONNECTORS.get(connector_type)


def find_tool(tool_name: str) -> tuple[Connector, Action] | None:
    """Map a tool name such as ``SLACK_SEND_MESSAGE`` to its connector and action."""
    wanted = tool_name.upper()
    for connector in CONNECTORS.values():
        for action_name in connector.actions:
            if connector.tool_name(action_name) == wanted:
                return connector, connector.actions[action_name]
    return None
