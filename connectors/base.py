"""What a connector is: its credential fields, its actions and their schemas.

A connector module defines ``CONNECTOR = Connector(...)``; ``connectors.registry``
lists them. Action handlers are plain async functions taking an ``ActionContext``
and the action's input model, returning the output model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


def _no_heartbeat(*_details: Any) -> None:
    return None


@dataclass(frozen=True)
class ActionContext:
    """Everything an action needs besides its input.

    ``credentials`` holds decrypted credential fields (never logged);
    ``base_urls`` maps names such as ``"slack"`` to the vendor base URL (a setting,
    so tests can point the SDK at a local server); ``idempotency_key`` is stable
    across retries of the same activity; ``throttle``, when set, is awaited before each
    request to a vendor whose budget is shared by every worker process (it replaces
    the connector's own pacing).
    """

    credentials: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    base_urls: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    allow_private_urls: bool = False
    timeout_seconds: float = 30.0
    heartbeat: Callable[..., None] = _no_heartbeat
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
    """A vendor integration: credential type and fields, actions, a cheap test call."""

    type: str
    name: str
    description: str
    credential_type: str
    credential_fields: tuple[CredentialField, ...]
    actions: Mapping[str, Action]
    test: Callable[[ActionContext], Awaitable[dict[str, Any]]] | None = None
    requires_credentials: bool = True

    def tool_name(self, action: str) -> str:
        """Tool names as in seed 003: ``SLACK_SEND_MESSAGE``."""
        return f"{self.type}_{action}".upper()

    def required_fields(self) -> list[str]:
        return [f.name for f in self.credential_fields if f.required]

    def secret_fields(self) -> list[str]:
        return [f.name for f in self.credential_fields if f.secret]
