"""Run Alembic migrations: ``python -m store.migrate [upgrade|current]``."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from store.db import ensure_sqlite_dir, sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the schema to ``revision``; safe to run on every start."""
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def main(argv: list[str]) -> int:
    from settings import get_settings

    url = get_settings().database_url
    action = argv[0] if argv else "upgrade"
    if action == "upgrade":
        upgrade(url)
    elif action == "current":
        command.current(alembic_config(url), verbose=True)
    else:
        print("usage: python -m store.migrate [upgrade|current]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
