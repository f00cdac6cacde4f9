"""Calling a Google REST API as the connected account, for the Gmail and Calendar connectors.

Auth: an ``oauth2`` credential with a Google access token (``Authorization:
Bearer``) plus the refresh token and OAuth client that minted it. An access token
past ``expires_at`` (or answered with 401 once) is refreshed at Google's token
endpoint (``ctx.base_urls["google_token"]``, ``grant_type=refresh_token``, RFC 6749
§6, via ``connectors.oauth``) and the call is made once more; a refused refresh
(``invalid_grant``, ...) is ``AuthError``.

Refreshing does not write anywhere: the caller gets the fields to merge into the
stored credential (``access_token``, ``expires_at`` and, if Google rotated it,
``refresh_token``), or ``None`` when nothing changed, and persists them outside
workflow history. With ``ctx.sandbox`` set, every request (token endpoint
included) goes to ``google_sandbox`` instead of the network.

Errors are Google's ``{"error": {"code", "message", "status", "errors": [{"reason"}]}}``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from connectors import google_sandbox, oauth
from connectors.base import ActionContext, CredentialField
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
# What both Google connectors store: the tokens and the OAuth client that minted them.
CREDENTIAL_FIELDS = (
    CredentialField("access_token"),
    CredentialField("refresh_token"),
    CredentialField("client_id", secret=False),
    CredentialField("client_secret"),
    CredentialField("expires_at", secret=False, required=False, description="Unix seconds"),
)
EXPIRY_MARGIN_SECONDS = 60
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)


def map_error(response: httpx.Response, service: str) -> ConnectorError:
    """Map Google's ``{"error": {"code", "message", "status", "errors"}}`` answer."""
    status = response.status_code
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    error = error if isinstance(error, dict) else {}
    google_status = error.get("status")
    reasons = {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)}
    message = f"{service}: {google_status or status}: {error.get('message', '')}".rstrip(": ")
    if status == 429 or google_status == "RESOURCE_EXHAUSTED" or reasons & RATE_LIMIT_REASONS:
        after = retry_after_seconds(response.headers.get("retry-after"))
        return RateLimitedError(message, retry_after=after, status_code=status)
    if status in (401, 403):
        return AuthError(message, status_code=status)
    if status == 404:
        return NotFoundError(message, status_code=status)
    if status >= 500:
        return TransientError(message, status_code=status)
    return InvalidInputError(message, status_code=status)


class GoogleSession:
    """The access token for one action, refreshed at most once, and the calls made with it."""

    def __init__(
        self,
        ctx: ActionContext,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        service: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        creds = ctx.credentials
        self.ctx = ctx
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.transport = transport
        self.access_token = str(creds.get("access_token") or "")
        self.refresh_token = str(creds.get("refresh_token") or "")
        self.client_id = str(creds.get("client_id") or "")
        self.client_secret = str(creds.get("client_secret") or "")
        try:
            self.expires_at: float | None = float(creds["expires_at"])
        except (KeyError, TypeError, ValueError):
            self.expires_at = None  # unknown: use the token until Google answers 401
        self.refreshed: dict[str, Any] | None = None

    def _can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def _expired(self) -> bool:
        if not self.access_token:
            return True
        return (
            self.expires_at is not None and self.expires_at - EXPIRY_MARGIN_SECONDS <= time.time()
        )

    async def _refresh(self) -> None:
        tokens = await oauth.refresh(
            self.ctx.base_urls.get("google_token", DEFAULT_TOKEN_URL),
            refresh_token=self.refresh_token,
            client_id=self.client_id,
            client_secret=self.client_secret,
            timeout=self.ctx.timeout_seconds,
            transport=self.transport,
        )
        self.access_token = tokens.access_token
        refreshed: dict[str, Any] = {"access_token": tokens.access_token}
        if tokens.expires_at is not None:
            refreshed["expires_at"] = tokens.expires_at
        if tokens.refresh_token and tokens.refresh_token != self.refresh_token:
            self.refresh_token = refreshed["refresh_token"] = tokens.refresh_token
        self.refreshed = refreshed

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Bearer {self.access_token}"},
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"could not reach {self.service}: {type(exc).__name__}") from exc

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call, refreshing first if expired or once after a 401; the raw answer."""
        if self._expired() and self._can_refresh():
            await self._refresh()
        if not self.access_token:
            raise AuthError(f"{self.service} credential has no access_token and cannot refresh one")
        response = await self._send(method, path, **kwargs)
        if response.status_code == 401 and self.refreshed is None and self._can_refresh():
            await self._refresh()
            response = await self._send(method, path, **kwargs)
        return response

    def body(self, response: httpx.Response) -> dict[str, Any]:
        """A successful answer's JSON object (``{}`` for an empty 204); errors mapped."""
        if not response.is_success:
            raise map_error(response, self.service)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError(f"{self.service} answered with a body that is not JSON") from exc
        return body if isinstance(body, dict) else {}

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.body(await self.request(method, path, **kwargs))


@asynccontextmanager
async def session(
    ctx: ActionContext, *, base_key: str, default_base: str, service: str
) -> AsyncIterator[GoogleSession]:
    """A session for one action against ``ctx.base_urls[base_key]`` (or the sandbox)."""
    transport = google_sandbox.transport(ctx.sandbox) if ctx.sandbox is not None else None
    async with httpx.AsyncClient(timeout=ctx.timeout_seconds, transport=transport) as client:
        yield GoogleSession(
            ctx,
            client,
            base_url=ctx.base_urls.get(base_key, default_base),
            service=service,
            transport=transport,
        )
