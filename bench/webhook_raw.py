"""The raw ``temporalio`` baseline for the webhook benchmark, run as its own worker process:
one workflow with one activity that signs and POSTs a body, nothing else (no database,
no job state, no delivery log). ``python -m bench.webhook_raw`` with TASKYARD_* set."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import httpx

RAW_QUEUE = "bench-raw-webhooks"
SECRET = "whsec_raw"


class RawDelivery(BaseModel):
    url: str
    delivery_id: str
    event: str
    data: dict[str, Any]


_http: httpx.AsyncClient | None = None


@activity.defn(name="raw_post")
async def raw_post(data: RawDelivery) -> int:
    global _http
    if _http is None:
        _http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))
    body = json.dumps(
        {"event": data.event, "timestamp": "2024-01-01T00:00:00Z", "data": data.data},
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "X-Webhook-Event": data.event,
        "X-Webhook-Delivery": data.delivery_id,
    }
    response = await _http.post(data.url, content=body, headers=headers, timeout=10)
    return response.status_code


@workflow.defn(name="RawWebhookWorkflow")
class RawWebhookWorkflow:
    @workflow.run
    async def run(self, data: RawDelivery) -> int:
        return await workflow.execute_activity(
            raw_post,
            data,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )


async def serve() -> None:
    from bench.raw_worker import serve_raw  # (here, not in the sandboxed module's imports)

    await serve_raw(RAW_QUEUE, [RawWebhookWorkflow], [raw_post])


if __name__ == "__main__":
    # Run the module's own copy, so the workflow class is bench.webhook_raw's, not __main__'s.
    from bench import webhook_raw
    from bench.raw_worker import run_raw

    run_raw(webhook_raw.serve())
