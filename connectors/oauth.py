"""OAuth 2.0 authorization-code flow for app integrations (RFC 6749 §4.1 and §6).

Builds the provider's authorization URL and speaks its token endpoint over
httpx: form-encoded ``authorization_code`` and ``refresh_token`` grants with the
client credentials in the body, which Google, Slack (``oauth.v2.access``) and
Discord (``/oauth2/token``) all accept. Errors follow the connector family: a
refused grant (``invalid_grant``, ``invalid_client``, Slack's ``{"ok": false,
"error": "invalid_code"}``, any other 4xx) is ``AuthError`` — permanent, the end
user must connect again; 429 is ``RateLimitedError``; 5xx and network failures
are ``TransientError``. Endpoint URLs come from ``base_urls`` (settings), never
from users, so they are not routed through ``netguard``.

What a grant is stored as differs per vendor (``credential_data``): Slack's
access token is the bot token the Slack connector sends (``bot_token``), and the
workspace (Slack) or server (Discord) the app was installed to is kept beside it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, Field

from connectors.errors import AuthError, RateLimitedError, TransientError, retry_after_seconds


def _no_extras(_body: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _slack_extras(body: Mapping[str, Any]) -> dict[str, Any]:
    """``oauth.v2.access`` names the workspace and the bot user it installed."""
    team = body.get("team")
    team = team if isinstance(team, dict) else {}
    extras = {
        "app_id": body.get("app_id"),
        "bot_user_id": body.get("bot_user_id"),
        "team_id": team.get("id"),
        "team_name": team.get("name"),
    }
    return {k: v for k, v in extras.items() if v}


def _discord_extras(body: Mapping[str, Any]) -> dict[str, Any]:
    """With the ``bot`` scope Discord's token answer carries the server the bot joined."""
    guild = body.get("guild")
    guild = guild if isinstance(guild, dict) else {}
    extras = {"guild_id": guild.get("id"), "guild_name": guild.get("name")}
    return {k: v for k, v in extras.items() if v}


@dataclass(frozen=True)
class OAuthProvider:
    """How one toolkit's accounts are connected: endpoints (``base_urls`` keys), scopes,
    and how the vendor's token answer is stored."""

    toolkit: str
    client: str  # which platform OAuth client signs in (settings.oauth_clients key)
    auth_url_key: str
    token_url_key: str
    scopes: tuple[str, ...]
    auth_params: Mapping[str, str] = field(default_factory=dict)
    scope_separator: str = " "
    access_field: str = "access_token"  # the credential field the access token is stored as
    extras: Callable[[Mapping[str, Any]], dict[str, Any]] = _no_extras


# offline + consent: Google only returns a refresh token when asked like this.
_GOOGLE_OFFLINE = {"access_type": "offline", "prompt": "consent"}

# Discord bot permissions (bit flags): View Channel, Send Messages, Embed Links,
# Read Message History — what the Discord connector's actions need.
DISCORD_BOT_PERMISSIONS = str((1 << 10) | (1 << 11) | (1 << 14) | (1 << 16))

PROVIDERS: dict[str, OAuthProvider] = {
    p.toolkit: p
    for p in (
        OAuthProvider(
            toolkit="gmail",
            client="google",
            auth_url_key="google_auth",
            token_url_key="google_token",
            scopes=(
                "https://www.googleapis.com/auth/gmail.send",
                "https://www.googleapis.com/auth/gmail.readonly",
            ),
            auth_params=_GOOGLE_OFFLINE,
        ),
        OAuthProvider(
            toolkit="google-calendar",
            client="google",
            auth_url_key="google_auth",
            token_url_key="google_token",
            scopes=(
                "https://www.googleapis.com/auth/calendar.events",
                "https://www.googleapis.com/auth/calendar.readonly",
            ),
            auth_params=_GOOGLE_OFFLINE,
        ),
        OAuthProvider(
            toolkit="slack",
            client="slack",
            auth_url_key="slack_auth",
            token_url_key="slack_token",
            scopes=("chat:write", "chat:write.public", "reactions:write", "channels:read"),
            scope_separator=",",  # Slack's v2 authorize URL takes a comma-separated list
            access_field="bot_token",
            extras=_slack_extras,
        ),
        OAuthProvider(
            toolkit="discord",
            client="discord",
            auth_url_key="discord_auth",
            token_url_key="discord_token",
            scopes=("bot", "identify"),
            auth_params={"permissions": DISCORD_BOT_PERMISSIONS},
            extras=_discord_extras,
        ),
    )
}


def provider_for(toolkit: str) -> OAuthProvider | None:
    return PROVIDERS.get(toolkit)


class TokenSet(BaseModel):
    """What a token endpoint granted; ``expires_at`` in Unix seconds; ``extra`` the
    provider's non-token fields worth keeping (``OAuthProvider.extras``)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: int | None = None
    token_type: str = "Bearer"
    scope: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


def granted_scopes(provider: OAuthProvider, token: TokenSet) -> list[str]:
    """The scopes the grant names (space- or, as Slack writes them, comma-separated),
    else the provider's defaults."""
    if not token.scope:
        return list(provider.scopes)
    return [s for s in re.split(r"[,\s]+", token.scope) if s]


def credential_data(provider: OAuthProvider, token: TokenSet) -> dict[str, Any]:
    """The fields a connection stores for this grant, named as the toolkit's connector
    reads them (Slack's access token is its ``bot_token``)."""
    data = token.model_dump(exclude_none=True, exclude={"extra"})
    if provider.access_field != "access_token":
        data[provider.access_field] = data.pop("access_token")
    return {**data, **token.extra}


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
        "scope": provider.scope_separator.join(scopes or provider.scopes),
        "state": state,
        **provider.auth_params,
    }
    base = base_urls[provider.auth_url_key]
    return base + ("&" if "?" in base else "?") + urlencode(params)


async def _grant(
    token_url: str,
    form: dict[str, str],
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
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


def token_set(
    body: Mapping[str, Any],
    provider: OAuthProvider | None = None,
    *,
    keep_refresh: str | None = None,
) -> TokenSet:
    """Read a token endpoint's JSON answer (RFC 6749 §5.1, plus the provider's extras)."""
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or keep_refresh or "") or None,
        expires_at=int(time.time()) + int(expires_in) if expires_in is not None else None,
        token_type=str(body.get("token_type") or "Bearer"),
        scope=body.get("scope"),
        extra=provider.extras(body) if provider is not None else {},
    )


async def exchange_code(
    token_url: str,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    timeout: float = 30.0,
    provider: OAuthProvider | None = None,
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
    return token_set(body, provider)


async def refresh(
    token_url: str,
    *,
    refresh_token: str,
    client_id: str,
    client_secret: str,
    timeout: float = 30.0,
    provider: OAuthProvider | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TokenSet:
    """A new access token (RFC 6749 §6); the refresh token stays unless the provider rotates it.

    ``transport`` lets a sandbox vendor answer in place of the network."""
    body = await _grant(
        token_url,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        },
        timeout,
        transport,
    )
    return token_set(body, provider, keep_refresh=refresh_token)
