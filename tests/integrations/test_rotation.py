"""Key rotation: every registered secret column re-encrypted under the new primary key."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from engine.services.sealing import seal
from store import apps, connections, credentials, rotation
from store.db import Database, sync_url
from store.migrate import upgrade
from store.models import SealedSecret, User
from store.vault import Vault
from tests.conftest import fresh_postgres_database, make_settings, new_user, run_stack

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = os.urandom(32), os.urandom(32)
MINE = (
    "credentials.ciphertext",
    "apps.secret_ciphertext",
    "app_connections.ciphertext",
    "sealed_secrets.ciphertext",
)


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on the same backend (other tests' rows use other keys)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'rotate.db'}"
    else:
        yield from fresh_postgres_database()


@pytest.fixture
async def db(fresh_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, fresh_url)
    database = Database(fresh_url)
    yield database
    await database.close()


async def populate(db: Database, vault: Vault, n: int = 3) -> dict[str, Any]:
    user = User(email=f"{uuid.uuid4().hex[:10]}@example.com")
    async with db.session() as session:
        session.add(user)
        await session.commit()
    made: dict[str, Any] = {"user": user.id, "creds": [], "conns": []}
    app, made["app_secret"] = await apps.create(
        db, vault, user_id=user.id, name="a", redirect_urls=[]
    )
    made["app"] = app.id
    for i in range(n):
        row = await credentials.create(
            db,
            vault,
            user_id=user.id,
            name=f"c{i}",
            description=None,
            type="oauth",
            provider="slack",
            data={"bot_token": f"xoxb-{i}"},
            metadata={},
            public_fields=[],
        )
        made["creds"].append(row.id)
        conn = await connections.create_active(
            db,
            vault,
            app_id=app.id,
            end_user_id=f"u{i}",
            toolkit="slack",
            data={"bot_token": f"t{i}"},
        )
        made["conns"].append(conn.id)
    made["sealed"] = await seal(db, vault, user.id, {"auth": {"token": "s"}})
    return made


async def ciphertexts(db: Database) -> list[str]:
    values: list[str] = []
    async with db.engine.connect() as conn:
        for entry in rotation.load_all():
            if entry.name in MINE:
                col = entry.table.c[entry.column]
                values += [v for v in (await conn.execute(sa.select(col))).scalars() if v]
    return values


async def test_rotates_every_column_and_is_idempotent(db: Database) -> None:
    made = await populate(db, Vault({"old": OLD}))
    both = Vault({"new": NEW, "old": OLD})
    reports = {r.column: r for r in await rotation.rotate(db, both, batch_size=2)}
    assert set(MINE) <= set(reports)
    assert reports["credentials.ciphertext"].rotated == 3
    assert reports["app_connections.ciphertext"].rotated == 3
    assert reports["apps.secret_ciphertext"].rotated == 1
    assert reports["sealed_secrets.ciphertext"].rotated == 1
    assert all(not r.failed for r in reports.values())
    assert all(v.startswith("v1.new.") for v in await ciphertexts(db))

    only_new = Vault({"new": NEW})  # the old key can go: everything opens without it
    for cred_id in made["creds"]:
        row = await credentials.get_owned(db, made["user"], cred_id)
        assert row is not None and credentials.open_data(only_new, row)["bot_token"]
    for conn_id in made["conns"]:
        conn = await connections.get(db, conn_id)
        assert conn is not None and connections.open_tokens(only_new, conn)["bot_token"]
    app = await apps.get(db, made["app"])
    assert app is not None and apps.signing_secret(only_new, app) == made["app_secret"].encode()

    again = await rotation.rotate(db, both, batch_size=2)
    assert sum(r.rotated for r in again) == 0
    assert [
        await rotation.count_stale(db, both, e) for e in rotation.registered() if e.name in MINE
    ] == [0, 0, 0, 0]


async def test_a_bad_ciphertext_is_reported_and_left_alone(db: Database) -> None:
    made = await populate(db, Vault({"old": OLD}), n=2)
    first, second = made["creds"]
    async with db.engine.begin() as conn:  # a ciphertext moved onto another record
        stolen = (
            await conn.execute(
                sa.select(col(credentials.Credential.ciphertext)).where(
                    credentials.Credential.id == first
                )
            )
        ).scalar_one()
        await conn.execute(
            sa.update(credentials.Credential)
            .where(credentials.Credential.id == second)
            .values(ciphertext=stolen)
        )
    [report] = await rotation.rotate(
        db, Vault({"new": NEW, "old": OLD}), columns=["credentials.ciphertext"]
    )
    assert (report.rotated, report.failed) == (1, [second])
    async with db.engine.connect() as conn:
        kept = (
            await conn.execute(
                sa.select(col(credentials.Credential.ciphertext)).where(
                    credentials.Credential.id == second
                )
            )
        ).scalar_one()
    assert kept == stolen


async def test_a_concurrent_write_wins(db: Database, fresh_url: str) -> None:
    """The service rewrote the row (under the new key) between rotation's read and write."""
    made = await populate(db, Vault({"old": OLD}), n=1)
    both = Vault({"new": NEW, "old": OLD})
    entry = next(e for e in rotation.registered() if e.name == "sealed_secrets.ciphertext")
    concurrent = both.encrypt(
        b'{"auth":{"token":"fresh"}}', entry.aad({"user_id": made["user"], "id": made["sealed"]})
    )
    engine = sa.create_engine(sync_url(fresh_url))

    def aad_with_a_writer(row: Mapping[str, Any]) -> bytes:
        with engine.begin() as conn:  # another process commits meanwhile
            conn.execute(
                sa.update(entry.table)
                .where(entry.table.c.id == row["id"])
                .values(ciphertext=concurrent)
            )
        return entry.aad(row)

    racing = rotation.EncryptedColumn(entry.table, entry.column, aad_with_a_writer)
    report = await rotation.rotate_column(db, both, racing, batch_size=1)
    engine.dispose()
    assert (report.rotated, report.skipped) == (0, 1)
    async with db.session() as session:
        row = await session.get(SealedSecret, made["sealed"])
    assert row is not None and row.ciphertext == concurrent


def rotate_env(database_url: str, state_dir: Path, master_keys: str) -> dict[str, str]:
    """The environment an operator runs ``python -m store.rotate`` with."""
    return {
        **os.environ,
        "TASKYARD_ENVIRONMENT": "test",
        "TASKYARD_STATE_DIR": str(state_dir),
        "TASKYARD_DATABASE_URL": database_url,
        "TASKYARD_MASTER_KEYS": master_keys,
    }


async def rotate_command(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``python -m store.rotate`` in its own process: (exit code, output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "store.rotate",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_command(db: Database, fresh_url: str, tmp_path: Path) -> None:
    """``python -m store.rotate`` as an operator runs it: its own process, settings from env."""
    await populate(db, Vault({"old": OLD}), n=1)
    both = f"new:{base64.b64encode(NEW).decode()},old:{base64.b64encode(OLD).decode()}"
    env = rotate_env(fresh_url, tmp_path, both)

    async def run(*args: str) -> tuple[int, str]:
        return await rotate_command(env, *args)

    code, out = await run("--check")
    assert code == 3 and "credentials.ciphertext: 1 not under the primary key" in out, out
    code, out = await run("--batch-size", "1")
    assert code == 0 and "credentials.ciphertext: 1 re-encrypted" in out, out
    code, out = await run("--check")
    assert code == 0, out


async def test_deleted_webhooks_do_not_hold_rotation_open(
    temporal_env: Any, fresh_url: str, tmp_path: Path
) -> None:
    """A deleted endpoint's secrets are wiped (empty), so they are nothing to rotate: the
    check reports done once the live endpoints are rotated."""
    old_only = f"old:{base64.b64encode(OLD).decode()}"
    settings = make_settings(
        temporal_env, fresh_url, tmp_path, master_keys=old_only, allow_private_urls=True
    )
    async with run_stack(temporal_env, settings, with_worker=False) as stack:
        _user, key = await new_user(stack)
        async with stack.api(key) as api:
            hooks = []
            for name in ("gone", "kept"):
                r = await api.post(
                    "/api/v1/webhooks",
                    json={"name": name, "url": "http://127.0.0.1:9/h", "events": ["*"]},
                )
                assert r.status_code == 201, r.text
                hooks.append(r.json()["id"])
            assert (await api.delete(f"/api/v1/webhooks/{hooks[0]}")).status_code in (200, 204)
    env = rotate_env(fresh_url, tmp_path, f"new:{base64.b64encode(NEW).decode()},{old_only}")

    async def run(*args: str) -> tuple[int, str]:
        return await rotate_command(env, "--column", "webhook_endpoints.secret_ciphertext", *args)

    code, out = await run("--check")
    assert code == 3 and "webhook_endpoints.secret_ciphertext: 1 not under" in out, out
    code, out = await run()
    assert code == 0 and "1 re-encrypted" in out and "FAILED" not in out, out
    code, out = await run("--check")
    assert code == 0, out
