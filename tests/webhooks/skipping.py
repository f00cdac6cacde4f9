"""The time-skipping environment for webhook tests: a worker for the webhooks queue,
a real SQLite database and a real local receiver; back-off waits pass in moments."""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps
from activities.events import DeliveryStarter
from activities.tools import ToolActivities
from engine.models import queues
from engine.models.events import event_id_for
from engine.models.jobs import SEARCH_ATTRIBUTES
from engine.services.events import EventPublisher
from engine.services.webhooks import EndpointSpec, WebhookService
from engine.workflows.tool_execution import ToolExecutionWorkflow
from settings import Settings
from store.db import Database
from store.migrate import upgrade
from store.models import User
from store.webhooks import WebhookDelivery
from tests.conftest import session_converter
from tests.fakes.server import serve
from tests.webhooks.receiver import Receiver
from worker import QueuePlan, queue_plans, queue_worker

BIN = Path(sys.executable).parent


@dataclass
class Skipping:
    env: Any
    client: Client
    settings: Settings
    db: Database
    service: WebhookService
    events: EventPublisher
    receiver: Receiver

    async def endpoint(self, user_id: str, path: str, events: list[str], **kw: Any) -> str:
        spec = EndpointSpec(name=path, url=self.receiver.url(path), events=events, **kw)
        row, _secret = await self.service.create(user_id, spec)
        return row.id

    async def user(self) -> str:
        user = User(email=f"{uuid.uuid4().hex[:10]}@example.com")
        async with self.db.session() as session:
            session.add(user)
            await session.commit()
        return user.id

    async def publish(self, user_id: str, name: str = "lead.created") -> str:
        event_id = event_id_for(uuid.uuid4().hex, name)
        assert await self.events.publish_one(user_id, name, {"leadId": "lead_1"}, event_id)
        async with self.env.time_skipping_unlocked():
            await self.client.get_workflow_handle(event_id).result()
        return event_id

    async def outcome(self, delivery_id: str) -> tuple[bool, list[float]]:
        """Whether the delivery workflow succeeded, and its timers in seconds."""
        handle = self.client.get_workflow_handle(delivery_id)
        try:
            # Deliveries are started by an activity, not through this client: unlock time
            # skipping explicitly while waiting for them.
            async with self.env.time_skipping_unlocked():
                await handle.result()
            ok = True
        except WorkflowFailureError:
            ok = False
        timers = [
            e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        ]
        return ok, timers

    async def delivery(self, delivery_id: str) -> WebhookDelivery:
        async with self.db.session() as session:
            row = await session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


@pytest.fixture(scope="module")
async def skipping(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Skipping]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=session_converter(),
    )
    # The test server has no ListSearchAttributes, but it does register new ones.
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in SEARCH_ATTRIBUTES
            },
        )
    )
    state = tmp_path_factory.mktemp("skip")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        state_dir=state,
        database_url=f"sqlite:///{state / 'db.sqlite'}",
        master_keys="t:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        allow_private_urls=True,
        task_queue_prefix="s" + uuid.uuid4().hex[:8],
        activity_heartbeat_timeout_seconds=5.0,
        webhook_error_after_failures=2,
        webhook_disable_after_seconds=3600.0,
    )
    await asyncio.to_thread(upgrade, settings.database_url)
    deps = ActivityDeps.from_settings(settings)
    receiver = Receiver()
    worker = queue_worker(env.client, deps, queues.WEBHOOKS, queue_plans(deps)[queues.WEBHOOKS])
    tools = ToolActivities(deps.secrets, base_urls={}, allow_private_urls=True)
    tool_worker = queue_worker(
        env.client, deps, queues.TOOLS, QueuePlan([ToolExecutionWorkflow], [tools.run_tool_action])
    )
    # Without the database: events go through the fan-out workflow, as jobs' events do.
    events = EventPublisher(env.client, DeliveryStarter.from_settings(settings), None)
    try:
        async with serve(receiver.app()) as base_url, worker, tool_worker:
            receiver.base_url = base_url
            yield Skipping(
                env,
                env.client,
                settings,
                deps.db,
                WebhookService(deps.db, deps.vault, events, settings),
                events,
                receiver,
            )
    finally:
        await deps.close()
        await env.shutdown()
