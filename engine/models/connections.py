"""Connected accounts of app end users: the connection workflow's input, its update, and
its activities' messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

CONNECTION_WORKFLOW = "ConnectionWorkflow"
QUERY_CONNECTION = "connection_state"
UPDATE_AUTHORIZE = "authorize"
EXCHANGE_CODE = "exchange_authorization_code"
REFRESH_CONNECTION = "refresh_connection"
MARK_CONNECTION = "mark_connection"
EVENT_CONNECTION_EXPIRED = "connection.expired"

ConnectionStatus = Literal["INITIATED", "ACTIVE", "EXPIRED", "FAILED", "DELETED"]


class ExchangeCodeInput(BaseModel):
    connection_id: str
    sealed_code_id: str
    redirect_uri: str


class ConnectionIdInput(BaseModel):
    connection_id: str


class MarkConnectionInput(BaseModel):
    connection_id: str
    status: Literal["FAILED", "EXPIRED"]
    reason: str
    only_if: ConnectionStatus | None = None


class ConnectionOutcome(BaseModel):
    """Where a connection stands; ``expires_at`` is the access token's expiry, if any."""

    status: ConnectionStatus
    expires_at: datetime | None = None
    expires_in: int | None = None  # seconds the new token lives: workflows time refreshes by it
    reason: str | None = None


class ConnectionInput(BaseModel):
    connection_id: str
    owner_user_id: str
    app_id: str
    end_user_id: str
    toolkit: str
    request_ttl_seconds: int = 600
    refresh_margin_seconds: int = 300
    # Carried over continue-as-new (or set when starting an already-authorized connection):
    authorized: bool = False
    expires_in: int | None = None  # lifetime of the current access token, when starting authorized
    refresh_at: datetime | None = None  # workflow time of the next refresh (continue-as-new)
    refreshes: int = 0


class AuthorizeInput(BaseModel):
    """What the OAuth callback hands over: the sealed code's id, or the provider's error."""

    redirect_uri: str
    sealed_code_id: str | None = None
    error: str | None = None
