"""Activities of an end user's connection: trade the OAuth code, refresh tokens, mark status.

Tokens and codes never leave these functions: inputs carry ids (the code is a
sealed secret), outputs carry a status and an expiry time only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from temporalio import activity

from activities.errors import to_application_error
from activities.secrets import SecretStore
from connectors import oauth
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

    async def _provider(
        self, row: connections.Connection
    ) -> tuple[oauth.OAuthProvider, str, str, str]:
        provider = oauth.provider_for(row.toolkit)
        if provider is None or provider.client not in self.oauth_clients:
            raise AuthError(f"no OAuth client is configured for {row.toolkit}")
        client_id, client_secret = self.oauth_clients[provider.client]
        return provider, self.base_urls[provider.token_url_key], client_id, client_secret

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
            provider, token_url, client_id, client_secret = await self._provider(row)
            token = await oauth.exchange_code(
                token_url,
                code=str(sealed["code"]),
                redirect_uri=data.redirect_uri,
                client_id=client_id,
                client_secret=client_secret,
                timeout=self.timeout,
            )
        except (AuthError, NotFoundError) as exc:
            await self._forget_code(data.sealed_code_id)
            return await self._fail(row.id, "FAILED", exc.message)
        except Exception as exc:
            raise to_application_error(exc) from None
        await connections.activate(
            self.db,
            self.vault,
            row.id,
            token.model_dump(exclude_none=True),
            _expiry(token),
            scopes=token.scope.split() if token.scope else list(provider.scopes),
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
            _provider, token_url, client_id, client_secret = await self._provider(row)
            token = await oauth.refresh(
                token_url,
                refresh_token=str(refresh_token),
                client_id=client_id,
                client_secret=client_secret,
                timeout=self.timeout,
            )
        except AuthError as exc:
            return await self._fail(row.id, "EXPIRED", exc.message)
        except Exception as exc:
            raise to_application_error(exc) from None
        await connections.merge_tokens(
            self.db, self.vault, row.id, token.model_dump(exclude_none=True), _expiry(token)
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
