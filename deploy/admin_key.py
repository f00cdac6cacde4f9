"""``python -m deploy.admin_key [--out PATH] [--name NAME]``: mint a new global admin key.

The API mints an admin key by itself only on its very first start; any later one is
made here, on request. The key (global, ``*``) is written to a new owner-only (0600)
file — ``<state dir>/admin.key`` unless ``--out`` says otherwise; an existing file is
never overwritten — and only the path is printed. Migrations are applied first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from api.bootstrap import ADMIN_KEY_FILE, mint_admin_key
from settings import Settings, get_settings
from store.db import Database
from store.migrate import upgrade


async def mint(settings: Settings, out: Path, name: str) -> str:
    """Mint the key into ``out``; returns the new key's id."""
    await asyncio.to_thread(upgrade, settings.database_url)
    db = Database(settings.database_url)
    try:
        return await mint_admin_key(db, out, name)
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m deploy.admin_key", description=__doc__)
    parser.add_argument("--out", type=Path, default=settings.state_dir / ADMIN_KEY_FILE)
    parser.add_argument("--name", default="admin")
    args = parser.parse_args(argv)
    try:
        key_id = asyncio.run(mint(settings, args.out, args.name))
    except FileExistsError:
        print(
            f"{args.out} already exists; not overwriting it. Pass --out with a new path.",
            file=sys.stderr,
        )
        return 1
    print(f"wrote a new global admin key ({key_id}) to {args.out} (mode 0600)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
