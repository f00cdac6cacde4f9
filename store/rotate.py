"""``python -m store.rotate [--check] [--batch-size N] [--column table.column ...]``

Re-encrypts every registered secret column under the primary (first) key of
``TASKYARD_MASTER_KEYS``. Roll the new key out first — every API and worker
process configured with ``new:<key>,old:<key>`` — then run this while the
service keeps running; when it reports nothing left, drop the old key.
Exit status 1 if any ciphertext could not be opened (it is listed, never changed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from store.db import Database
from store.rotation import count_stale, load_all, rotate
from store.vault import Vault


async def run(args: argparse.Namespace) -> int:
    from settings import get_settings

    settings = get_settings()
    db = Database(settings.database_url)
    vault = Vault(settings.master_key_ring())
    try:
        print(f"primary key id: {vault.primary_kid}")
        if args.check:
            stale = 0
            for entry in load_all():
                if args.column and entry.name not in args.column:
                    continue
                count = await count_stale(db, vault, entry)
                stale += count
                print(f"{entry.name}: {count} not under the primary key")
            return 0 if stale == 0 else 3
        reports = await rotate(db, vault, batch_size=args.batch_size, columns=args.column)
        for report in reports:
            print(report.line())
        return 1 if any(r.failed for r in reports) else 0
    finally:
        await db.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m store.rotate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only count rows not under the primary key (exit 3 if any)",
    )
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--column", action="append", help="only this table.column (repeatable)")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
