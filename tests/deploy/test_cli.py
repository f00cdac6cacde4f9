"""``taskyard`` in a subprocess: migrate, create a user and a key, list, revoke — and the API
refuses the revoked key."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tests.conftest import TEST_MASTER_KEYS, make_settings, run_stack, wait_for

TASKYARD = Path(sys.executable).parent / "taskyard"
ROOT = Path(__file__).resolve().parents[2]


async def taskyard(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(TASKYARD),
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_users_and_keys_from_the_command_line(temporal_env: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        **os.environ,
        "TASKYARD_ENVIRONMENT": "test",
        "TASKYARD_STATE_DIR": str(tmp_path),
        "TASKYARD_DATABASE_URL": url,
        "TASKYARD_MASTER_KEYS": TEST_MASTER_KEYS,
    }
    code, out, err = await taskyard(env, "migrate")
    assert code == 0, out + err
    code, out, err = await taskyard(env, "users", "create", "Ann@Example.com", "--name", "Ann")
    assert code == 0, err
    user_id = out.split()[2]
    code, _out, err = await taskyard(env, "users", "create", "ann@example.com")
    assert code == 1 and "USER_EXISTS" in err
    code, out, err = await taskyard(env, "users", "list")
    assert code == 0 and f"{user_id}\tann@example.com\tAnn" in out
    code, out, err = await taskyard(
        env, "keys", "create", "--name", "ann", "--user", user_id, "--scope", "users:read"
    )
    assert code == 0, err
    key_id, raw = out.split()[2], out.strip().splitlines()[-1]
    assert raw.startswith("bna_") and "shown once" in err
    code, _out, err = await taskyard(env, "keys", "create", "--name", "x", "--scope", "nope")
    assert code == 2 and "unknown scope" in err
    code, out, _err = await taskyard(env, "keys", "list", "--user", user_id)
    assert code == 0 and key_id in out and "active" in out and raw not in out

    settings = make_settings(temporal_env, url, tmp_path)
    async with run_stack(temporal_env, settings, with_worker=False) as stack:
        async with stack.api(raw) as api:
            assert (await api.get("/api/v2/users/jobs")).status_code == 200
            code, out, err = await taskyard(env, "keys", "revoke", key_id)
            assert code == 0 and f"revoked {key_id}" in out, err

            async def refused() -> bool:
                return (await api.get("/api/v2/users/jobs")).status_code == 401

            await wait_for(refused)  # within the single-process key cache's seconds
    code, out, _err = await taskyard(env, "keys", "list")
    assert f"{key_id}\tann" in out and "revoked" in out
    code, _out, err = await taskyard(env, "keys", "revoke", "key_missing")
    assert code == 1 and "API_KEY_NOT_FOUND" in err


async def test_passthrough_commands_show_their_own_help(tmp_path: Path) -> None:
    env = {**os.environ, "TASKYARD_STATE_DIR": str(tmp_path)}
    for command, expected in (("api", "--workers"), ("worker", "--queue"), ("rotate", "--check")):
        code, out, err = await taskyard(env, command, "--help")
        assert code == 0 and expected in out, (command, out, err)
