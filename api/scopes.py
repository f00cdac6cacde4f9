"""Permission scopes. ``*`` grants all of them."""

from __future__ import annotations

ALL = "*"
SCOPES: tuple[str, ...] = (
    # the user-integrations, leads and jobs APIs
    "users:read",
    "users:write",
    "leads:read",
    "leads:write",
    "leads:delete",
    "api_keys:read",
    "api_keys:write",
    "webhooks:read",
    "webhooks:write",
    "linkedin:schedule",
    "jobs:read",
    "jobs:update",
    # the workflows API (/api/v1)
    "workflows:read",
    "workflows:write",
    "workflows:execute",
    "executions:read",
    "executions:write",
    "credentials:read",
    "credentials:write",
    "connectors:read",
    "connectors:write",
    "tools:execute",
    # the app-integrations API (/v1/{appId}/integrations)
    "apps:read",
    "apps:write",
    "integrations:read",
    "integrations:write",
    "integrations:execute",
    # Temporal's codec server protocol (/codec): global keys only, for operators
    "codec:decode",
    "codec:encode",
)
KNOWN = frozenset((*SCOPES, ALL))


def grants(held: list[str] | tuple[str, ...], wanted: str) -> bool:
    return ALL in held or wanted in held


def covers(held: list[str], asked: list[str]) -> bool:
    """A key may only mint keys whose scopes it holds itself."""
    return ALL in held or (
        all(scope in held for scope in asked if scope != ALL) and (ALL not in asked)
    )
