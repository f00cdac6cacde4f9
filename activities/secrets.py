"""Loading and decrypting secrets inside activities (never in workflow code)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors import oauth_sandbox
from connectors.errors import AuthError, NotFoundError
from connectors.oauth import provider_for
from store import apps, connections, credentials, secret_repo
from store.connections import CONNECTION_PREFIX
from store.db import Database
from store.vault import Vault, VaultError, associated_data

# Fields of the platform's OAuth client: handed to connectors, never stored on a connection.
CLIENT_FIELDS = frozenset({"client_id", "client_secret"})


class SecretStore:
    """Opens what an activity needs by id, for its owner only.

    ``credential_id`` names either a stored credential (``cred_…``) or an app
    end user's connection (``ca_…``), owned through the app by ``user_id``. A
    vendor connection is opened with the platform's OAuth client (and Discord's
    bot token) beside its tokens, a sandbox connection with the sandbox's.
    """

    def __init__(
        self,
        db: Database,
        vault: Vault,
        oauth_clients: Mapping[str, tuple[str, str]] | None = None,
        bot_tokens: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.oauth_clients = dict(oauth_clients or {})
        self.bot_tokens = dict(bot_tokens or {})

    async def open_sealed(self, user_id: str, secret_id: str) -> dict[str, Any]:
        row = await secret_repo.get_sealed(self.db, user_id, secret_id)
        if row is None:
            raise NotFoundError("sealed request secret not found")
        try:
            value = self.vault.decrypt_json(
                row.ciphertext, associated_data(user_id, "sealed", secret_id)
            )
        except VaultError as exc:
            raise AuthError("sealed request secret cannot be opened") from exc
        return dict(value)

    async def open_credential(self, user_id: str, credential_id: str) -> dict[str, Any]:
        if credential_id.startswith(CONNECTION_PREFIX):
            return await self._open_connection(user_id, credential_id)
        row = await credentials.get_owned(self.db, user_id, credential_id)
        if row is None:
            raise NotFoundError(f"credential {credential_id!r} not found")
        try:
            return credentials.open_data(self.vault, row)
        except VaultError as exc:
            raise AuthError("credential cannot be opened") from exc

    async def _owned_connection(self, user_id: str, connection_id: str) -> connections.Connection:
        row = await connections.get(self.db, connection_id)
        app = await apps.get(self.db, row.app_id) if row is not None else None
        if row is None or app is None or app.user_id != user_id:
            raise NotFoundError(f"connection {connection_id!r} not found")
        return row

    async def _open_connection(self, user_id: str, connection_id: str) -> dict[str, Any]:
        row = await self._owned_connection(user_id, connection_id)
        if row.status != "ACTIVE":
            raise AuthError(f"the {row.toolkit} connection is {row.status}; connect again")
        try:
            data = connections.open_tokens(self.vault, row)
        except VaultError as exc:
            raise AuthError("connection credentials cannot be opened") from exc
        provider = provider_for(row.toolkit)
        if provider is None:
            return data
        if row.provider == "sandbox":
            return {**data, **oauth_sandbox.client_fields(provider)}
        if provider.client in self.oauth_clients:
            client_id, client_secret = self.oauth_clients[provider.client]
            data.update(client_id=client_id, client_secret=client_secret)
        if provider.client in self.bot_tokens and "bot_token" not in data:
            data["bot_token"] = self.bot_tokens[provider.client]
        return data

    async def sandbox_connection(
        self, user_id: str, credential_id: str
    ) -> connections.Connection | None:
        """The connection, when ``credential_id`` is one the sandbox granted."""
        if not credential_id.startswith(CONNECTION_PREFIX):
            return None
        row = await self._owned_connection(user_id, credential_id)
        return row if row.provider == "sandbox" else None

    async def save_refreshed(
        self, user_id: str, credential_id: str, values: Mapping[str, Any]
    ) -> None:
        """Persist tokens a connector refreshed, so the next execution starts from them."""
        fresh = {k: v for k, v in values.items() if k not in CLIENT_FIELDS and v is not None}
        if not fresh:
            return
        try:
            if credential_id.startswith(CONNECTION_PREFIX):
                row = await self._owned_connection(user_id, credential_id)
                expires = fresh.get("expires_at")
                expires_at = (
                    datetime.fromtimestamp(float(expires), UTC) if expires is not None else None
                )
                await connections.merge_tokens(self.db, self.vault, row.id, fresh, expires_at)
            else:
                await credentials.merge_data(self.db, self.vault, user_id, credential_id, fresh)
        except LookupError as exc:
            raise NotFoundError(f"credential {credential_id!r} not found") from exc
