"""``taskyard``: one command for operators.

    taskyard api [--host H --port P --workers N]   the API (as server.py)
    taskyard worker [--queue Q ...]                workers (as worker.py)
    taskyard migrate [upgrade|current]             database migrations
    taskyard setup                                 register search attributes (idempotent)
    taskyard rotate [--check ...]                  re-encrypt secrets under the primary key
    taskyard users list | create EMAIL [--name N]
    taskyard keys list [--user ID] | create --name N [--user ID] [--scope S ...]
                  [--expires ISO-8601] | revoke KEY_ID

``users`` and ``keys`` talk to the database directly (the settings' database URL), so an
operator needs neither curl nor a running API; ``keys create`` prints the key once.
Without ``--user`` a key is global (an operator's); ``--scope`` defaults to ``*``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from store.db import Database
from store.errors import DomainError

# Subcommands that hand their arguments to an existing entry point unchanged.
PASSTHROUGH = ("api", "worker", "migrate", "rotate")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskyard", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in (
        ("api", "run the API (uvicorn)"),
        ("worker", "run workers (--queue picks task queues)"),
        ("migrate", "apply database migrations"),
        ("rotate", "re-encrypt secrets under the primary master key"),
    ):
        commands.add_parser(name, help=summary, add_help=False)
    commands.add_parser("setup", help="register Taskyard's search attributes")

    users = commands.add_parser("users", help="list or create users").add_subparsers(
        dest="action", required=True
    )
    users.add_parser("list")
    create_user = users.add_parser("create")
    create_user.add_argument("email")
    create_user.add_argument("--name", default="")

    keys = commands.add_parser("keys", help="list, create or revoke API keys").add_subparsers(
        dest="action", required=True
    )
    listing = keys.add_parser("list")
    listing.add_argument("--user", help="only this user's keys")
    create_key = keys.add_parser("create")
    create_key.add_argument("--name", required=True)
    create_key.add_argument("--user", help="the user the key acts for (none: a global key)")
    create_key.add_argument(
        "--scope", action="append", help="a permission scope (repeatable; default *)"
    )
    create_key.add_argument("--expires", help="expiry, ISO 8601 (default: never)")
    create_key.add_argument("--description")
    revoke = keys.add_parser("revoke")
    revoke.add_argument("key_id")
    return parser


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


async def _users(db: Database, args: argparse.Namespace) -> int:
    from api.v2.users import CreateUser
    from store import user_repo

    if args.action == "list":
        for user in await user_repo.list_users(db):
            print(f"{user.id}\t{user.email}\t{user.name}\t{_iso(user.created_at)}")
        return 0
    try:
        data = CreateUser(email=args.email, name=args.name)
    except ValidationError as err:
        print(f"taskyard: {err.errors()[0]['msg']}", file=sys.stderr)
        return 2
    user = await user_repo.create_user(db, str(data.email).lower(), data.name)
    print(f"created user {user.id} <{user.email}>")
    return 0


async def _keys(db: Database, args: argparse.Namespace) -> int:
    from api import scopes
    from api.auth import generate_key, hash_key, preview
    from store import key_repo

    if args.action == "list":
        for row in await key_repo.list_keys(db, args.user):
            state = "active" if row.is_active else "revoked"
            print(
                f"{row.id}\t{row.name}\t{row.key_preview}\t{row.user_id or 'global'}\t"
                f"{','.join(row.permissions)}\t{state}\texpires {_iso(row.expires_at)}"
            )
        return 0
    if args.action == "revoke":
        revoked = await key_repo.revoke_key(db, args.key_id, user_id=None)
        print(f"revoked {', '.join(revoked)}")
        return 0
    permissions = list(dict.fromkeys(args.scope or [scopes.ALL]))
    unknown = [p for p in permissions if p not in scopes.KNOWN]
    if unknown:
        print(f"unknown scope(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    expires = datetime.fromisoformat(args.expires) if args.expires else None
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    raw = generate_key()
    row = await key_repo.create_key(
        db,
        key_repo.NewKey(
            name=args.name,
            key_hash=hash_key(raw),
            key_preview=preview(raw),
            permissions=permissions,
            user_id=args.user,
            description=args.description,
            expires_at=expires.astimezone(UTC) if expires else None,
        ),
        parent_key_id=None,
    )
    print(f"created key {row.id} ({row.user_id or 'global'}: {', '.join(permissions)})")
    print("the key (shown once, store it now):", file=sys.stderr)
    print(raw)
    return 0


def _with_db(run: Callable[[Database, argparse.Namespace], Awaitable[int]]) -> Any:
    async def wrapped(args: argparse.Namespace) -> int:
        from settings import get_settings

        db = Database(get_settings().database_url)
        try:
            return await run(db, args)
        except DomainError as err:
            print(f"taskyard: {err.message} ({err.code})", file=sys.stderr)
            return 1
        finally:
            await db.close()

    return wrapped


def _passthrough(command: str, rest: list[str]) -> int:
    if command == "api":
        import server

        server.main(rest)
        return 0
    if command == "worker":
        import worker

        worker.main(rest)
        return 0
    if command == "migrate":
        from store import migrate

        return migrate.main(rest)
    from store import rotate

    return rotate.main(rest)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in PASSTHROUGH:
        return _passthrough(args_list[0], args_list[1:])
    args = _parser().parse_args(args_list)
    if args.command == "setup":
        from deploy import setup

        asyncio.run(setup.main())
        return 0
    run = _with_db(_users if args.command == "users" else _keys)
    return int(asyncio.run(run(args)))


if __name__ == "__main__":
    raise SystemExit(main())
