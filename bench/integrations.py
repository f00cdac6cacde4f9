"""App integrations benchmark: Slack ``send_message`` end to end, API against raw temporalio.

1. API: synchronous ``POST /v1/{appId}/integrations/execute`` with an end user's
   JWT — app and toolkit checks, connection lookup, job start, wait for result.
2. Raw: ``client.execute_workflow`` of the same ``ToolExecutionWorkflow`` with the
   same input (the same connection id, so the activity decrypts the same tokens).
Both post to a local Slack Web API (tests/fakes/slack.py) through slack_sdk.
Goal: API throughput ≥ 0.85 of raw.
"""

from __future__ import annotations

import os
import time
import uuid

import jwt

from bench.harness import bench_stack, compare, measure
from engine.models import queues
from engine.models.jobs import start_attributes, start_memo
from engine.models.tools import ToolExecutionInput
from engine.workflows.tool_execution import ToolExecutionWorkflow
from tests.fakes.server import serve
from tests.fakes.slack import VALID_TOKEN, FakeSlack

TOTAL = int(os.environ.get("BENCH_INTEGRATIONS_SYNC", "300"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "20"))
TOOL = "SLACK_SEND_MESSAGE"
PARAMS = {"channel": "C0GENERAL", "text": "benchmark"}


async def main() -> None:
    slack = FakeSlack()
    async with (
        serve(slack.app()) as slack_url,
        bench_stack(slack_base_url=slack_url + "/api/") as stack,
    ):
        owner, key = await stack.new_user()
        async with stack.api(key) as api:
            r = await api.post("/api/v1/apps", json={"name": "bench", "redirectUrls": []})
            r.raise_for_status()
            app_id, secret = r.json()["appId"], r.json()["jwtSecret"]
            r = await api.post(f"/v1/{app_id}/integrations/configure", json={"toolkit": "slack"})
            r.raise_for_status()
        token = jwt.encode(
            {"sub": "bench-user", "exp": int(time.time()) + 3600}, secret, algorithm="HS256"
        )
        async with stack.api() as api:
            api.headers.pop("x-api-key")
            api.headers["Authorization"] = f"Bearer {token}"
            r = await api.post(
                f"/v1/{app_id}/integrations/connect",
                json={"toolkit": "slack", "credentials": {"bot_token": VALID_TOKEN}},
            )
            r.raise_for_status()
            connection_id = r.json()["connectionId"]
            queue = queues.task_queue(stack.settings.task_queue_prefix, queues.TOOLS)
            body = {"toolName": TOOL, "params": PARAMS}

            async def api_execute(_i: int) -> None:
                r = await api.post(f"/v1/{app_id}/integrations/execute", json=body)
                assert r.status_code == 200 and r.json()["successful"], r.text

            async def raw_execute(_i: int) -> None:
                result = await stack.client.execute_workflow(
                    ToolExecutionWorkflow.run,
                    ToolExecutionInput(
                        user_id=owner,
                        tool_name=TOOL,
                        params=PARAMS,
                        credential_id=connection_id,
                        timeout_seconds=60,
                        heartbeat_timeout_seconds=10,
                    ),
                    id="raw_" + uuid.uuid4().hex,
                    task_queue=queue,
                    search_attributes=start_attributes(owner, "tool_execution"),
                    memo=start_memo(f"Queued {TOOL}", {"toolName": TOOL}),
                )
                assert result.successful

            await measure(20, 5, api_execute)  # warm both paths
            await measure(20, 5, raw_execute)
            raw_1 = await measure(TOTAL // 2, CONCURRENCY, raw_execute)
            api_1 = await measure(TOTAL // 2, CONCURRENCY, api_execute)
            api_2 = await measure(TOTAL // 2, CONCURRENCY, api_execute)
            raw_2 = await measure(TOTAL // 2, CONCURRENCY, raw_execute)

    raw, api_s = raw_1, api_1
    raw.count, raw.seconds = raw_1.count + raw_2.count, raw_1.seconds + raw_2.seconds
    raw.latencies = raw_1.latencies + raw_2.latencies
    api_s.count, api_s.seconds = api_1.count + api_2.count, api_1.seconds + api_2.seconds
    api_s.latencies = api_1.latencies + api_2.latencies
    print(
        f"concurrency {CONCURRENCY}; SLACK_SEND_MESSAGE against a local Slack Web API; "
        f"{len(slack.messages)} messages posted"
    )
    print(raw.line("raw execute_workflow"))
    print(api_s.line("API integrations/execute"))
    print(compare("end-to-end", api_s, raw) + " (goal: ratio >= 0.85)")
