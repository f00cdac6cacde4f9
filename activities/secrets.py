"""Loading and decrypting secrets inside activities (never in workflow code)."""

from __future__ import annotations

from typing import Any

from connectors.errors import AuthError, NotFoundError
from store.db import Database
from store.models import SealedSecret
from store.vault import Vault, VaultError, associated_data


class SecretStore:
    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

    async def open_sealed(self, user_id: str, secret_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await session.get(SealedSecret, secret_id)
        if row is None or row.user_id != user_id:
            raise NotFoundError("sealed request secret not found")
        try:
            value = self.vault.decrypt_json(
                row.ciphertext, associated_data(user_id, "sealed", secret_id)
            )
        except VaultError as exc:
            raise AuthError("sealed request secret cannot be opened") from exc
        return dict(value)

    async def open_credential(self, user_id: str, credential_id: str) -> dict[str, Any]:
        """Credentials arrive with the connectors issue; until then none exist."""
        raise NotFoundError(f"credential {credential_id!r} not found")
