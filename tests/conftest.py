"""Shared fixtures: a real Temporal dev server, real databases, a real API and worker.

The suite runs on SQLite, and also on PostgreSQL when ``TASKYARD_TEST_POSTGRES_URL``
is set (CI sets it): the database-backed stack fixture is parametrized by backend.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps
from api.app import create_app
from deploy.devstack import FAIRNESS_DYNAMIC_CONFIG
from engine.models.jobs import SEARCH_ATTRIBUTES
from engine.services.codec import taskyard_converter
from engine.services.temporal import data_converter
from settings import Settings
from store.migrate import upgrade
from tests.fakes.server import serve
from worker import build_workers

BIN = Path(sys.executable).parent
ADMIN_KEY = "bna_" + "ad" * 32
POSTGRES_URL = os.environ.get("TASKYARD_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TASKYARD_TEST_REDIS_URL")


def master_keys() -> str:
    return "test1:" + base64.b64encode(secrets.token_bytes(32)).decode()


# The ring of the session's stacks unless a test gives its own: the session client
# (``temporal_env.client``) encrypts and decrypts with it, as the stacks' workers do.
TEST_MASTER_KEYS = master_keys()


def session_converter() -> DataConverter:
    """The converter of the session's stacks (recorded plain histories pass through it)."""
    kid, _, key = TEST_MASTER_KEYS.partition(":")
    return taskyard_converter({kid: base64.b64decode(key)})


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=session_converter(),
        dev_server_log_level="error",
        # Task queue priority and fairness, as `make run` starts the server.
        dev_server_extra_args=[
            arg for value in FAIRNESS_DYNAMIC_CONFIG for arg in ("--dynamic-config-value", value)
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(scope="session", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'taskyard.db'}"
        return
    yield from fresh_postgres_database()


def fresh_postgres_database() -> Iterator[str]:
    """A new database on the server CI provides, dropped afterwards."""
    import psycopg

    assert POSTGRES_URL
    name = f"taskyard_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _db = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(
    temporal_env: WorkflowEnvironment, database_url: str, state_dir: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "state_dir": state_dir,
        "database_url": database_url,
        "temporal_address": temporal_env.client.service_client.config.target_host,
        "admin_key": ADMIN_KEY,
        "master_keys": TEST_MASTER_KEYS,
        "allow_private_urls": True,
        "rate_limit_per_minute": 100_000,
        "invalid_key_attempts_per_minute": 100_000,  # the suite sends invalid keys on purpose
        "task_queue_prefix": "t" + uuid.uuid4().hex[:10],
        "activity_heartbeat_timeout_seconds": 2.0,
        "redis_url": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Stack:
    base_url: str
    settings: Settings
    client: Client
    deps: ActivityDeps

    def api(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"x-api-key": key} if key else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60)

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.api(ADMIN_KEY)


def stack_client(temporal_env: WorkflowEnvironment, settings: Settings) -> Client:
    shared = temporal_env.client
    return Client(
        shared.service_client, namespace=shared.namespace, data_converter=data_converter(settings)
    )


@contextlib.asynccontextmanager
async def run_stack(
    temporal_env: WorkflowEnvironment, settings: Settings, *, with_worker: bool = True
) -> AsyncIterator[Stack]:
    """Migrations, an in-process worker for every queue, and the API on a loopback port.

    The stack's client shares the session's connection with the stack's own data converter
    (its master keys and encryption setting), as ``connect(settings)`` would build it."""
    await asyncio.to_thread(upgrade, settings.database_url)
    deps = ActivityDeps.from_settings(settings)
    client = stack_client(temporal_env, settings)
    workers = build_workers(client, deps) if with_worker else []
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        async with serve(create_app(settings), lifespan="on") as base_url:
            yield Stack(base_url, settings, client, deps)
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await deps.close()


@pytest.fixture(scope="session")
async def stack(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    settings = make_settings(temporal_env, database_url, tmp_path_factory.mktemp("state"))
    async with run_stack(temporal_env, settings) as running:
        yield running


async def new_user(stack: Stack, permissions: list[str] | None = None) -> tuple[str, str]:
    """A fresh user and a key for it: (user id, raw key)."""
    async with stack.admin as admin:
        email = f"u{uuid.uuid4().hex[:12]}@example.com"
        r = await admin.post("/api/v2/users", json={"email": email, "name": "Test User"})
        assert r.status_code == 201, r.text
        user_id = r.json()["userId"]
        r = await admin.post(
            "/api/v2/keys",
            json={"name": "test", "permissions": permissions or ["*"], "userId": user_id},
        )
        assert r.status_code == 201, r.text
        return user_id, r.json()["key"]


async def wait_for(predicate: Any, *, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns something truthy, or fail at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
async def target() -> AsyncIterator[Any]:
    """A fresh loopback HTTP target per test."""
    from tests.fakes.target import Target

    t = Target()
    async with serve(t.app()) as base_url:
        t.base_url = base_url
        try:
            yield t
        finally:
            t.release.set()


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment for a worker subprocess that shares this test's Temporal, DB and queues."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"TASKYARD_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env
