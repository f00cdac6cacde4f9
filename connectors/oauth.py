"""OAuth 2.0 authorization-code flow for app integrations (RFC 6749 §4.1 and §6).

Builds the provider's authorization URL and speaks its token endpoint over
httpx: form-encoded ``authorization_code`` and ``refresh_token`` grants with the
client credentials in the body, as Google documents for web-server apps.
Errors follow the connector family: a refused grant (``invalid_grant``,
``invalid_client``, any other 4xx) is ``AuthError`` — permanent, the end user
must connect again; 429 is ``RateLimitedError``; 5xx and network failures are
``TransientError``. Endpoint URLs come from ``base_urls`` (settings), never
from users, so they are not routed through ``netguard``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel

from connectors.errors import AuthError, RateLimitedError, TransientError, retry_after_seconds


@dataclass(frozen=True)
class OAuthProvider:
    """How one toolkit's accounts are connected: endpoints (``base_urls`` keys), scopes."""

    toolkit: str
    client: str  # which platform OAuth client signs in (settings.oauth_clients key)
    auth_url_key: str
    token_url_key: str
    scopes: tuple[str, ...]
    auth_params: Mapping[str, str] = field(default_factory=dict)


PROVIDERS: dict[str, OAuthProvider] = {
    "gmail": OAuthProvider(
        toolkit="gmail",
        client="google",
        auth_url_key="google_auth",
        token_url_key="google_token",
        scopes=(
            "https://www.googleapis.com/auth/gmail.send",
            "https://www.googleapis.com/auth/gmail.readonly",
        ),
        # offline + consent: Google only returns a refresh token when asked like this.
        auth_params={"access_type": "offline", "prompt": "consent"},
    ),
}


def provider_for(toolkit: str) -> OAuthProvider | None:
    return PROVIDERS.get(toolkit)


class TokenSet(BaseModel):
    """What a token endpoint granted; ``expires_at`` in Unix seconds."""

    access_token: str
    refresh_token: str | None = None
    expires_at: int | None = None
    token_type: str = "Bearer"
    scope: str | None = None


def authorization_url(
    provider: OAuthProvider,
    base_urls: Mapping[str, str],
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: list[str] | None = None,
) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes or provider.scopes),
        "state": state,
        **provider.auth_params,
    }
    base = base_urls[provider.auth_url_key]
    return base + ("&" if "?" in base else "?") + urlencode(params)


async def _grant(token_url: str, form: dict[str, str], timeout: float) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(
                token_url, data=form, headers={"Accept": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise TransientError(f"could not reach the token endpoint: {type(exc).__name__}") from exc
    if response.status_code == 429:
        after = retry_after_seconds(response.headers.get("retry-after"))
        raise RateLimitedError("token endpoint rate limit", retry_after=after)
    if response.status_code >= 500:
        raise TransientError("token endpoint failed", status_code=response.status_code)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransientError("token endpoint answered with a body that is not JSON")
    if not response.is_success or not body.get("access_token"):
        code = str(body.get("error") or "no access_token")
        raise AuthError(f"the provider refused the grant: {code}", status_code=response.status_code)
    return body


def _token_set(body: dict[str, Any], *, keep_refresh: str | None = None) -> TokenSet:
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or keep_refresh or "") or None,
        expires_at=int(time.time()) + int(expires_in) if expires_in is not None else None,
        token_type=str(body.get("token_type") or "Bearer"),
        scope=body.get("scope"),
    )


async def exchange_code(
    token_url: str,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    timeout: float = 30.0,
) -> TokenSet:
    """Trade an authorization code for tokens (RFC 6749 §4.1.3)."""
    body = await _grant(
        token_url,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
        },
        timeout,
    )
    return _token_set(body)


async def refresh(
    token_url: str,
    *,
    refresh_token: str,
    client_id: str,
    client_secret: str,
    timeout: float = 30.0,
) -> TokenSet:
    """A new access token (RFC 6749 §6); the refresh token stays unless the provider rotates it."""
    body = await _grant(
        token_url,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        },
        timeout,
    )
    return _token_set(body, keep_refresh=refresh_token)
