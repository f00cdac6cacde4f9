"""ConnectionWorkflow with skipped time: refresh before expiry, EXPIRED + event when refused.

Real activities, a real database and the local OAuth provider; only the
``publish_events`` local activity is a double (registered under its real name)
so the emitted event can be inspected.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.connections import ConnectionActivities
from activities.secrets import SecretStore
from engine.models.connections import ConnectionInput
from engine.models.events import PublishEventsInput, PublishEventsOutput
from engine.workflows.connections import ConnectionWorkflow
from store import apps, connections
from store.db import Database
from store.migrate import upgrade
from store.models import User
from store.vault import Vault
from tests.conftest import session_converter, wait_for
from tests.integrations.conftest import Fakes
from tests.integrations.fake_oauth import CLIENT_ID, CLIENT_SECRET
from tests.plain import plain

BIN = Path(sys.executable).parent
HISTORIES = Path(__file__).resolve().parent.parent / "histories"


@dataclass
class World:
    env: WorkflowEnvironment
    client: Client
    db: Database
    vault: Vault
    queue: str
    published: list[PublishEventsInput] = field(default_factory=list)


@pytest.fixture(scope="module")
async def world(database_url: str, fakes: Fakes) -> AsyncIterator[World]:
    await asyncio.to_thread(upgrade, database_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=session_converter(),
    )
    db = Database(database_url)
    vault = Vault({"k1": os.urandom(32)})
    clients = {"google": (CLIENT_ID, CLIENT_SECRET)}
    acts = ConnectionActivities(
        db,
        vault,
        SecretStore(db, vault, clients),
        base_urls={"google_token": fakes.oauth.token_url},
        oauth_clients=clients,
        timeout_seconds=5,
    )
    w = World(env, env.client, db, vault, "conn-" + uuid.uuid4().hex[:8])

    @activity.defn(name="publish_events")
    async def publish_events(data: PublishEventsInput) -> PublishEventsOutput:
        w.published.append(data)
        return PublishEventsOutput()

    worker = Worker(
        env.client,
        task_queue=w.queue,
        workflows=[ConnectionWorkflow],
        activities=[
            acts.exchange_authorization_code,
            acts.refresh_connection,
            acts.mark_connection,
            publish_events,
        ],
    )
    async with worker:
        yield w
    await db.close()
    await env.shutdown()


async def connection(w: World, fakes: Fakes, *, status: str = "ACTIVE") -> tuple[str, str, str]:
    """A user, an app and a connection holding a refresh token the provider knows."""
    user = User(email=f"{uuid.uuid4().hex[:10]}@example.com")
    async with w.db.session() as session:
        session.add(user)
        await session.commit()
    app, _secret = await apps.create(w.db, w.vault, user_id=user.id, name="a", redirect_urls=[])
    refresh = f"1//0refresh-{uuid.uuid4().hex}"
    fakes.oauth.refresh_tokens.add(refresh)
    row = await connections.create_active(
        w.db,
        w.vault,
        app_id=app.id,
        end_user_id="eu-1",
        toolkit="gmail",
        data={"access_token": "ya29.first", "refresh_token": refresh},
    )
    if status != "ACTIVE":
        await connections.set_status(w.db, row.id, status)  # type: ignore[arg-type]
    return user.id, app.id, row.id


async def save(w: World, workflow_id: str, name: str) -> None:
    if os.environ.get("TASKYARD_RECORD_HISTORIES"):
        history = await w.client.get_workflow_handle(workflow_id).fetch_history()
        history = await plain(history, w.client)
        await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json())


async def test_refreshes_before_expiry_then_expires_with_an_event(
    world: World, fakes: Fakes
) -> None:
    w = world
    user_id, app_id, conn_id = await connection(w, fakes)
    handle = await w.client.start_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(
            connection_id=conn_id,
            owner_user_id=user_id,
            app_id=app_id,
            end_user_id="eu-1",
            toolkit="gmail",
            authorized=True,
            expires_in=3600,
            refresh_margin_seconds=300,
        ),
        id=conn_id,
        task_queue=w.queue,
    )
    calls = len(fakes.oauth.token_calls("refresh_token"))
    await w.env.sleep(timedelta(seconds=3200))  # not yet: the token still has 400 s
    assert len(fakes.oauth.token_calls("refresh_token")) == calls
    await w.env.sleep(timedelta(seconds=200))  # 300 s before expiry: refreshed

    async def refreshed() -> bool:
        row = await connections.get(w.db, conn_id)
        assert row is not None
        return connections.open_tokens(w.vault, row)["access_token"] != "ya29.first"

    await wait_for(refreshed)
    assert len(fakes.oauth.token_calls("refresh_token")) == calls + 1
    row = await connections.get(w.db, conn_id)
    assert row is not None and row.status == "ACTIVE" and row.expires_at is not None

    fakes.oauth.revoke_all()  # the user removed access in their Google account
    outcome = await handle.result()
    assert outcome.status == "EXPIRED" and "invalid_grant" in (outcome.reason or "")
    row = await connections.get(w.db, conn_id)
    assert row is not None and row.status == "EXPIRED"
    [published] = [p for p in w.published if p.events[0].data["connectionId"] == conn_id]
    assert published.user_id == user_id
    [event] = published.events
    assert event.name == "connection.expired"
    assert event.data == {
        "connectionId": conn_id,
        "appId": app_id,
        "userId": "eu-1",
        "toolkit": "gmail",
        "status": "EXPIRED",
        "reason": outcome.reason,
    }
    await save(w, conn_id, "connection_refreshed_expired_v0")


async def test_an_unfinished_authorization_fails_when_the_state_expires(
    world: World, fakes: Fakes
) -> None:
    w = world
    user_id, app_id, conn_id = await connection(w, fakes, status="INITIATED")
    outcome = await w.client.execute_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(
            connection_id=conn_id,
            owner_user_id=user_id,
            app_id=app_id,
            end_user_id="eu-1",
            toolkit="gmail",
            request_ttl_seconds=600,
        ),
        id=conn_id,
        task_queue=w.queue,
    )
    assert outcome.status == "FAILED"
    row = await connections.get(w.db, conn_id)
    assert row is not None and row.status == "FAILED"
    assert row.status_reason == "the end user did not complete authorization in time"
    await save(w, conn_id, "connection_request_timeout_v0")


async def test_a_connection_without_expiry_needs_no_refresh(world: World, fakes: Fakes) -> None:
    w = world
    user_id, app_id, conn_id = await connection(w, fakes)
    outcome = await w.client.execute_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(
            connection_id=conn_id,
            owner_user_id=user_id,
            app_id=app_id,
            end_user_id="eu-1",
            toolkit="gmail",
            authorized=True,
        ),
        id=conn_id,
        task_queue=w.queue,
    )
    assert outcome.status == "ACTIVE"
