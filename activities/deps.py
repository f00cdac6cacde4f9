"""What activities share in one worker process: database, vault, secret store."""

from __future__ import annotations

from dataclasses import dataclass

from activities.secrets import SecretStore
from settings import Settings
from store.db import Database
from store.vault import Vault


@dataclass
class ActivityDeps:
    settings: Settings
    db: Database
    vault: Vault
    secrets: SecretStore

    @classmethod
    def from_settings(cls, settings: Settings) -> ActivityDeps:
        db = Database(settings.database_url)
        vault = Vault(settings.master_key_ring())
        secrets = SecretStore(db, vault, settings.oauth_clients(), settings.bot_tokens())
        return cls(settings=settings, db=db, vault=vault, secrets=secrets)

    async def close(self) -> None:
        await self.db.close()
