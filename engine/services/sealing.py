"""Keeping secrets out of workflow history.

Before a tool execution starts, secret-looking parts of its parameters (``auth``,
credential-bearing headers and query parameters) are encrypted into a
``sealed_secrets`` row; the workflow carries only that row's id.
"""

from __future__ import annotations

import re
from typing import Any

from store.db import Database
from store.models import SealedSecret
from store.vault import Vault, associated_data

SECRET_KEYS = frozenset({"auth", "password", "token", "secret", "api_key", "apikey"})
SENSITIVE_NAME = re.compile(
    r"(authorization|cookie|token|secret|passw|api[-_]?key|x-api-key|signature|session)", re.I
)
NESTED = ("headers", "query")


def split_secrets(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) parts of ``params``; merging them back gives ``params``."""
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, value in params.items():
        if key.lower() in SECRET_KEYS:
            secret[key] = value
        elif key in NESTED and isinstance(value, dict):
            kept = {k: v for k, v in value.items() if not SENSITIVE_NAME.search(str(k))}
            hidden = {k: v for k, v in value.items() if SENSITIVE_NAME.search(str(k))}
            public[key] = kept
            if hidden:
                secret[key] = hidden
        else:
            public[key] = value
    return public, secret


async def seal(db: Database, vault: Vault, user_id: str, secret: dict[str, Any]) -> str:
    row = SealedSecret(user_id=user_id, ciphertext="")
    row.ciphertext = vault.encrypt_json(secret, associated_data(user_id, "sealed", row.id))
    await db.save(row)
    return row.id
