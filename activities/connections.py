"""Activities of an end user's connection: trade the OAuth code, refresh tokens, mark status.

Tokens and codes never leave these functions: inputs carry ids (the code is a
sealed secret), outputs carry a status and an expiry time only. A sandbox
connection's code and refresh token go to the sandbox authorization server
(``connectors.oauth_sandbox``), a vendor connection's to the vendor's token
endpoint; both grants are stored the same way (``oauth.credential_data``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from temporalio import activity

from activities.errors import to_application_error
from activities.secrets import SecretStore
from connectors import oauth, oauth_sandbox
from connectors.errors import AuthError, NotFoundError
from engine.models.connections import (
    EXCHANGE_CODE,
    MARK_CONNECTION,
    REFRESH_CONNECTION,
    ConnectionIdInput,
    ConnectionOutcome,
    ExchangeCodeInput,
    MarkConnectionInput,
)
from store import apps, connections, secret_repo
from store.db import Database
from store.vault import Vault


def _expiry(token: oauth.TokenSet) -> datetime | None:
    return datetime.fromtimestamp(token.expires_at, UTC) if token.expires_at else None


def _lifetime(token: oauth.TokenSet) -> int | None:
    return max(0, token.expires_at - int(time.time())) if token.expires_at else None


class ConnectionActivities:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        secrets: SecretStore,
        *,
        base_urls: Mapping[str, str],
        oauth_clients: Mapping[str, tuple[str, str]],
        timeout_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.vault = vault
        self.secrets = secrets
        self.base_urls = dict(base_urls)
        self.oauth_clients = dict(oauth_clients)
        self.timeout = timeout_seconds

    def _provider(self, row: connections.Connection) -> oauth.OAuthProvider:
        provider = oauth.provider_for(row.toolkit)
        if provider is None:
            raise AuthError(f"{row.toolkit} does not connect through OAuth")
        return provider

    def _client(self, provider: oauth.OAuthProvider) -> tuple[str, str, str]:
        """(token URL, client id, client secret) of the vendor's token endpoint."""
        if provider.client not in self.oauth_clients:
            raise AuthError(f"no OAuth client is configured for {provider.toolkit}")
        client_id, client_secret = self.oauth_clients[provider.client]
        return self.base_urls[provider.token_url_key], client_id, client_secret

    async def _exchange(
        self, row: connections.Connection, provider: oauth.OAuthProvider, code: str, redirect: str
    ) -> oauth.TokenSet:
        if row.provider == "sandbox":
            request = await connections.request_for(self.db, row.id)
            if request is None:
                raise AuthError("the sandbox has no request for this connection")
            return oauth_sandbox.exchange(provider, code, request.state_hash, row.scopes)
        token_url, client_id, client_secret = self._client(provider)
        return await oauth.exchange_code(
            token_url,
            code=code,
            redirect_uri=redirect,
            client_id=client_id,
            client_secret=client_secret,
            timeout=self.timeout,
            provider=provider,
        )

    async def _refresh(
        self, row: connections.Connection, provider: oauth.OAuthProvider, refresh_token: str
    ) -> oauth.TokenSet:
        if row.provider == "sandbox":
            return oauth_sandbox.refresh(provider, refresh_token)
        token_url, client_id, client_secret = self._client(provider)
        return await oauth.refresh(
            token_url,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            timeout=self.timeout,
            provider=provider,
        )

    async def _fail(
        self, connection_id: str, status: Literal["FAILED", "EXPIRED"], reason: str
    ) -> ConnectionOutcome:
        await connections.set_status(self.db, connection_id, status, reason[:500])
        return ConnectionOutcome(status=status, reason=reason)

    @activity.defn(name=EXCHANGE_CODE)
    async def exchange_authorization_code(self, data: ExchangeCodeInput) -> ConnectionOutcome:
        """Trade the sealed code for tokens and activate the connection; a refusal is FAILED."""
        row = await connections.get(self.db, data.connection_id)
        if row is None:
            return ConnectionOutcome(status="DELETED")
        app = await apps.get(self.db, row.app_id)
        if app is None:
            return ConnectionOutcome(status="DELETED")
        try:
            sealed = await self.secrets.open_sealed(app.user_id, data.sealed_code_id)
            provider = self._provider(row)
            token = await self._exchange(row, provider, str(sealed["code"]), data.redirect_uri)
        except (AuthError, NotFoundError) as exc:
            await self._forget_code(data.sealed_code_id)
            return await self._fail(row.id, "FAILED", exc.message)
        except Exception as exc:
            raise to_application_error(exc) from None
        await connections.activate(
            self.db,
            self.vault,
            row.id,
            oauth.credential_data(provider, token),
            _expiry(token),
            scopes=oauth.granted_scopes(provider, token),
        )
        await self._forget_code(data.sealed_code_id)
        return ConnectionOutcome(
            status="ACTIVE", expires_at=_expiry(token), expires_in=_lifetime(token)
        )

    async def _forget_code(self, sealed_code_id: str) -> None:
        """An authorization code is single-use; its sealed copy has no reason to stay."""
        await secret_repo.forget_sealed(self.db, sealed_code_id)

    @activity.defn(name=REFRESH_CONNECTION)
    async def refresh_connection(self, data: ConnectionIdInput) -> ConnectionOutcome:
        """Refresh the access token; a refused refresh turns the connection EXPIRED."""
        row = await connections.get(self.db, data.connection_id)
        if row is None:
            return ConnectionOutcome(status="DELETED")
        if row.status != "ACTIVE":
            return ConnectionOutcome(status=row.status, reason=row.status_reason)  # type: ignore[arg-type]
        try:
            tokens = connections.open_tokens(self.vault, row)
            refresh_token = tokens.get("refresh_token")
            if not refresh_token:
                raise AuthError("the provider granted no refresh token")
            provider = self._provider(row)
            token = await self._refresh(row, provider, str(refresh_token))
        except AuthError as exc:
            return await self._fail(row.id, "EXPIRED", exc.message)
        except Exception as exc:
            raise to_application_error(exc) from None
        await connections.merge_tokens(
            self.db, self.vault, row.id, oauth.credential_data(provider, token), _expiry(token)
        )
        return ConnectionOutcome(
            status="ACTIVE", expires_at=_expiry(token), expires_in=_lifetime(token)
        )

    @activity.defn(name=MARK_CONNECTION)
    async def mark_connection(self, data: MarkConnectionInput) -> ConnectionOutcome:
        row = await connections.get(self.db, data.connection_id)
        if row is None:
            return ConnectionOutcome(status="DELETED")
        if data.only_if is not None and row.status != data.only_if:
            return ConnectionOutcome(status=row.status, reason=row.status_reason)  # type: ignore[arg-type]
        return await self._fail(row.id, data.status, data.reason)
