"""The operator's first key: ``TASKYARD_ADMIN_KEY`` if set, else one generated once.

A generated key is written to a new owner-only file in the state directory, never to
stdout (which ends up in logs), and only when the database has never held a global key:
revoking every global key does not make the next start mint another. A new admin key
after that is an explicit act: ``python -m deploy.admin_key``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from api.auth import generate_key, hash_key, preview
from settings import Settings, create_private_file
from store import key_repo
from store.db import Database

log = logging.getLogger("taskyard.api")
ADMIN_NAME = "bootstrap admin"
ADMIN_KEY_FILE = "admin.key"


def _admin(raw: str, name: str) -> key_repo.NewKey:
    return key_repo.NewKey(
        user_id=None, name=name, key_hash=hash_key(raw), key_preview=preview(raw), permissions=["*"]
    )


async def mint_admin_key(db: Database, path: Path, name: str = ADMIN_NAME) -> str:
    """A new global ``*`` key, written to the new 0600 file ``path``; returns its id.

    FileExistsError (nothing minted) when ``path`` exists: a key file is never overwritten.
    """
    raw = generate_key()
    create_private_file(path, raw + "\n")
    try:
        row = await key_repo.create_key(db, _admin(raw, name), parent_key_id=None)
    except BaseException:
        os.remove(path)  # a file naming a key that does not exist would mislead
        raise
    return row.id


async def ensure_admin_key(db: Database, settings: Settings) -> Path | None:
    """Returns the path of a newly written admin key file, or None when none was minted."""
    if settings.admin_key is not None:
        await key_repo.ensure_key(db, _admin(settings.admin_key.get_secret_value(), ADMIN_NAME))
        return None
    if await key_repo.any_global_key(db):
        return None
    path = settings.state_dir / ADMIN_KEY_FILE
    try:
        await mint_admin_key(db, path)
    except FileExistsError:
        # Another API process of this start won the race, or the file is left from an
        # earlier database: either way it is not overwritten.
        if await key_repo.any_global_key(db):
            return None
        log.warning(
            "no global API key exists and %s is already there (not overwritten); "
            "run `python -m deploy.admin_key --out PATH` for a new admin key",
            path,
        )
        return None
    return path
