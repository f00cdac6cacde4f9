"""The bootstrap admin key: minted once into a private file (never printed), never minted
again without ``python -m deploy.admin_key``; the dev master key is created private."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from settings import Settings
from store import key_repo
from store.db import Database
from tests.conftest import make_settings, run_stack, settings_env

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def global_keys(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        return [k.id for k in await key_repo.list_keys(db, None) if k.user_id is None]
    finally:
        await db.close()


async def admin_key_command(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "deploy.admin_key", *args],
        cwd=ROOT,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_admin_key_is_minted_once_into_a_private_file(
    temporal_env, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog
) -> None:
    caplog.set_level(logging.INFO)
    database_url = f"sqlite:///{tmp_path / 'fresh.db'}"  # a database that never had a key
    state = tmp_path / "state"
    settings = make_settings(temporal_env, database_url, state, admin_key=None)
    key_file = state / "admin.key"

    async with run_stack(temporal_env, settings, with_worker=False) as first:
        assert key_file.exists() and mode(key_file) == 0o600
        raw = key_file.read_text().strip()
        async with first.api(raw) as api:
            listed = await api.get("/api/v2/keys")
            assert listed.status_code == 200
            (admin_id,) = [k["id"] for k in listed.json()["data"]]
            # No active global key remains after this.
            assert (await api.delete(f"/api/v2/keys/{admin_id}")).status_code == 200
    printed = capfd.readouterr()
    assert raw not in printed.out + printed.err and raw not in caplog.text
    assert str(key_file) in printed.out

    async with run_stack(temporal_env, settings, with_worker=False) as second:
        async with second.api(raw) as api:
            assert (await api.get("/api/v2/keys")).status_code == 401
    assert key_file.read_text().strip() == raw  # not re-minted, not overwritten
    assert await global_keys(database_url) == [admin_id]
    assert "admin key" not in capfd.readouterr().out

    # A new admin key is an explicit act; it never overwrites a key file.
    refused = await admin_key_command(settings)
    assert refused.returncode == 1 and "already exists" in refused.stderr
    assert key_file.read_text().strip() == raw
    new_file = tmp_path / "new-admin.key"
    made = await admin_key_command(settings, "--out", str(new_file))
    assert made.returncode == 0, made.stderr
    new_raw = new_file.read_text().strip()
    assert mode(new_file) == 0o600 and new_raw not in made.stdout + made.stderr
    assert str(new_file) in made.stdout
    async with run_stack(temporal_env, settings, with_worker=False) as third:
        async with third.api(new_raw) as api:
            r = await api.post("/api/v2/users", json={"email": "ops@example.com"})
    assert r.status_code == 201


def dev_settings(state_dir: Path) -> Settings:
    return Settings(_env_file=None, environment="dev", state_dir=state_dir, master_keys=None)  # type: ignore[call-arg]


def test_dev_master_key_is_created_private_and_never_through_a_link(tmp_path: Path) -> None:
    umask = os.umask(0)  # even a permissive umask leaves no moment with a readable file
    try:
        ring = dev_settings(tmp_path / "a").master_key_ring()
    finally:
        os.umask(umask)
    path = tmp_path / "a" / "master.key"
    assert mode(path) == 0o600 and len(next(iter(ring.values()))) == 32
    assert dev_settings(tmp_path / "a").master_key_ring() == ring  # read back, not remade

    planted = tmp_path / "b"
    planted.mkdir()
    target = tmp_path / "elsewhere.key"
    (planted / "master.key").symlink_to(target)
    with pytest.raises(ValueError, match="dangling link"):
        dev_settings(planted).master_key_ring()
    assert not target.exists()
