"""One-line summaries a job starts with (Temporal user metadata), so the Temporal UI's list
reads like the jobs API.

A summary names the kind of work and its target by ids, event and tool names and host
names only: never an email address, a message's text, a lead's name or any parameter value.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LENGTH = 200


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


def host_of(url: str) -> str:
    """The host name of a URL (no user info, port, path or query), or "" if it has none."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def tool(tool_name: str) -> str:
    return _clip(f"tool {tool_name}")


def credential_test(provider: str) -> str:
    return _clip(f"credential test {provider}")


def webhook_delivery(event: str, *, host: str = "", endpoint_id: str = "") -> str:
    return _clip(f"webhook {event} → {host or endpoint_id or 'endpoint'}")


def event_fanout(events: list[str]) -> str:
    return _clip(f"events {', '.join(dict.fromkeys(events))}")


def workflow_run(workflow_id: str, version: int, schedule_id: str | None = None) -> str:
    scheduled = f" (schedule {schedule_id})" if schedule_id else ""
    return _clip(f"workflow {workflow_id} v{version}{scheduled}")


def linkedin_action(action_type: str, profile_url: str, account_id: str) -> str:
    """The profile's path only (``/in/<slug>``): no host, query or message text."""
    try:
        path = urlsplit(profile_url).path.rstrip("/") or "profile"
    except ValueError:
        path = "profile"
    return _clip(f"LinkedIn {action_type} → {path} via account {account_id}")


def linkedin_governor(account_id: str) -> str:
    return _clip(f"LinkedIn governor for account {account_id}")


def enrichment(providers: list[str]) -> str:
    return _clip(f"lead enrichment via {', '.join(providers)}")


def lead_import(rows: int, source_format: str) -> str:
    return _clip(f"lead import: {rows} rows ({source_format})")


def connection(toolkit: str, app_id: str) -> str:
    return _clip(f"{toolkit} connection for app {app_id}")
