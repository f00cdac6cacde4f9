"""What a connector is: its credential fields, its actions and their schemas.

A connector module defines ``CONNECTOR = Connector(...)``; ``connectors.registry``
lists them. Action handlers are plain async functions taking an ``ActionContext``
and the action's input model, returning the output model.

A connection made through Taskyard's sandbox (no vendor OAuth client configured)
runs the same handlers with ``ActionContext.sandbox`` set: the connector then
talks to its sandbox vendor (``connectors/*_sandbox.py``), which answers in the
vendor's wire format and keeps what it was sent in that ``SandboxStore`` instead
of sending anything out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel


def _no_heartbeat(*_details: Any) -> None:
    return None


@dataclass(frozen=True)
class SandboxItem:
    """One thing a sandbox vendor was sent (a message, an event), by its vendor-style id."""

    remote_id: str
    data: dict[str, Any]
    created_at: float  # Unix seconds


class SandboxStore(Protocol):
    """Where a sandbox vendor keeps what one connection sent it; the activity provides it.

    ``kind`` names the vendor object (``gmail.message``, ``slack.message``, …).
    """

    async def add(self, kind: str, remote_id: str, data: Mapping[str, Any]) -> None: ...

    async def get(self, kind: str, remote_id: str) -> SandboxItem | None: ...

    async def put(self, kind: str, remote_id: str, data: Mapping[str, Any]) -> bool: ...

    async def items(self, kind: str) -> list[SandboxItem]: ...


@dataclass(frozen=True)
class ActionContext:
    """Everything an action needs besides its input.

    ``credentials`` holds decrypted credential fields (never logged);
    ``base_urls`` maps names such as ``"slack"`` to the vendor base URL (a setting,
    so tests can point the SDK at a local server); ``idempotency_key`` is stable
    across retries of the same activity; ``sandbox``, when set, sends every call to
    the connector's sandbox vendor instead of the network; ``throttle``, when set, is
    awaited before each request to a vendor whose budget is shared by every worker
    process (it replaces the connector's own pacing).
    """

    credentials: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    base_urls: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    allow_private_urls: bool = False
    timeout_seconds: float = 30.0
    heartbeat: Callable[..., None] = _no_heartbeat
    sandbox: SandboxStore | None = None
    throttle: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[ActionContext, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Action:
    """One thing a connector can do."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    side_effecting: bool = True

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()


@dataclass(frozen=True)
class CredentialField:
    """A field of a connector's credential; ``secret`` ones are never shown back."""

    name: str
    secret: bool = True
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Connector:
    """A vendor integration: credential type and fields, actions, a cheap test call.

    ``categories`` are what the app-integrations catalog searches besides names and
    descriptions (``email``, ``calendar``, ``payments``, …)."""

    type: str
    name: str
    description: str
    credential_type: str
    credential_fields: tuple[CredentialField, ...]
    actions: Mapping[str, Action]
    test: Callable[[ActionContext], Awaitable[dict[str, Any]]] | None = None
    requires_credentials: bool = True
    categories: tuple[str, ...] = ()

    def tool_name(self, action: str) -> str:
        """Tool names as the app-integrations API spells them: ``SLACK_SEND_MESSAGE``,
        ``GOOGLE_CALENDAR_CREATE_EVENT`` (a hyphen in the type becomes ``_``)."""
        return f"{self.type}_{action}".upper().replace("-", "_")

    def required_fields(self) -> list[str]:
        return [f.name for f in self.credential_fields if f.required]

    def secret_fields(self) -> list[str]:
        return [f.name for f in self.credential_fields if f.secret]
