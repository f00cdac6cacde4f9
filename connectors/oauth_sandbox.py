"""The sandbox authorization server for app integrations: sign-in without a vendor.

It is the embedded default for every OAuth toolkit whose vendor client the
operator has not configured, so an app can try connect → consent → execute at
once. Like ``linkedin_sandbox`` it is deterministic and needs no network:

* consent: Taskyard's own page hands back ``consent_code(state)``; ``exchange``
  accepts exactly that code for that state (known by its SHA-256 digest, all
  Taskyard keeps of a state).
* tokens: answered in each vendor's own token-endpoint shape (Google: expiring
  access token plus refresh token; Slack ``oauth.v2.access``: a bot token and its
  workspace; Discord: a bearer token and the server the bot joined) and read by
  the same ``oauth.token_set`` as the vendor's, so what a connection stores has
  the same fields either way. Every token says ``sandbox`` in it, and the sandbox
  vendors (``google_sandbox``, ``slack_sandbox``, ``discord_sandbox``) accept only
  such tokens.
* refresh: a refresh token the sandbox issued (it carries its own checksum) gets
  a new access token; anything else is ``invalid_grant``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from connectors.errors import AuthError
from connectors.oauth import OAuthProvider, TokenSet, token_set

CLIENT_ID = "taskyard-sandbox"
# Not a secret: the sandbox vendors accept it from anyone. It lets the connectors'
# own refresh path run unchanged against the sandbox token endpoint.
CLIENT_SECRET = "taskyard-sandbox-client"
BOT_TOKEN = "sandbox-bot.taskyard"  # the Discord bot token sandbox connections act with
GOOGLE_ACCESS_PREFIX = "ya29.sandbox-"
SLACK_BOT_PREFIX = "xoxb-sandbox-"
DISCORD_ACCESS_PREFIX = "sandbox-discord-"
REFRESH_PREFIX = "1//sandbox-"
GOOGLE_TOKEN_SECONDS = 3599
DISCORD_TOKEN_SECONDS = 7 * 24 * 3600


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(("taskyard-oauth-sandbox", *parts)).encode()).hexdigest()


def consent_code(state: str) -> str:
    """The code the sandbox consent page returns for ``state`` (as a vendor's redirect would)."""
    return code_for(hashlib.sha256(state.encode()).hexdigest())


def code_for(state_digest: str) -> str:
    """The same code, from the state's SHA-256 hex digest."""
    return "sbx_" + _digest("code", state_digest)[:32]


def snowflake(*parts: str) -> str:
    """A Discord-style id (a 17-19 digit number) derived from ``parts``."""
    return str(10**17 + int(_digest("snowflake", *parts)[:15], 16) % (9 * 10**17))


def _refresh_token() -> str:
    nonce = secrets.token_hex(12)
    return f"{REFRESH_PREFIX}{nonce}.{_digest('refresh', nonce)[:16]}"


def _issued_refresh_token(token: str) -> bool:
    nonce, _, check = token.removeprefix(REFRESH_PREFIX).partition(".")
    return token.startswith(REFRESH_PREFIX) and check == _digest("refresh", nonce)[:16]


def _vendor_answer(
    provider: OAuthProvider, scopes: list[str], key: str, *, refreshing: bool
) -> dict[str, Any]:
    """The token endpoint's JSON as ``provider``'s vendor shapes it."""
    scope = provider.scope_separator.join(scopes or provider.scopes)
    if provider.client == "slack":
        team = _digest("team", key)[:8].upper()
        return {
            "ok": True,
            "access_token": SLACK_BOT_PREFIX + _digest("bot", key, secrets.token_hex(4))[:32],
            "token_type": "bot",
            "scope": scope,
            "bot_user_id": "U0SBX" + team[:6],
            "app_id": "A0SANDBOX",
            "team": {"id": "T0SBX" + team, "name": "Sandbox Workspace"},
        }
    if provider.client == "discord":
        body: dict[str, Any] = {
            "access_token": DISCORD_ACCESS_PREFIX + secrets.token_hex(16),
            "token_type": "Bearer",
            "expires_in": DISCORD_TOKEN_SECONDS,
            "refresh_token": _refresh_token(),
            "scope": scope,
        }
        if not refreshing:
            body["guild"] = {"id": snowflake("guild", key), "name": "Sandbox Server"}
        return body
    body = {
        "access_token": GOOGLE_ACCESS_PREFIX + secrets.token_hex(16),
        "expires_in": GOOGLE_TOKEN_SECONDS,
        "scope": scope,
        "token_type": "Bearer",
    }
    if not refreshing:
        body["refresh_token"] = _refresh_token()
    return body


def exchange(provider: OAuthProvider, code: str, state_digest: str, scopes: list[str]) -> TokenSet:
    """The sandbox token endpoint, ``authorization_code`` grant: only the code issued for
    this state is accepted."""
    if code != code_for(state_digest):
        raise AuthError("the provider refused the grant: invalid_grant (sandbox)")
    return token_set(_vendor_answer(provider, scopes, state_digest, refreshing=False), provider)


def refresh_answer(provider: OAuthProvider, refresh_token: str) -> dict[str, Any] | None:
    """The sandbox token endpoint's answer to a ``refresh_token`` grant; None = invalid_grant."""
    if not _issued_refresh_token(refresh_token):
        return None
    return _vendor_answer(provider, [], refresh_token, refreshing=True)


def refresh(provider: OAuthProvider, refresh_token: str) -> TokenSet:
    """The sandbox token endpoint, ``refresh_token`` grant."""
    body = refresh_answer(provider, refresh_token)
    if body is None:
        raise AuthError("the provider refused the grant: invalid_grant (sandbox)")
    return token_set(body, provider, keep_refresh=refresh_token)


def client_fields(provider: OAuthProvider) -> dict[str, str]:
    """What a sandbox connection is used with besides its tokens, as the platform's
    client (and Discord's bot token) would be for a vendor connection."""
    fields = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if provider.client == "discord":
        fields["bot_token"] = BOT_TOKEN
    return fields
