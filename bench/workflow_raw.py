"""The raw ``temporalio`` baseline for the workflows benchmark, as its own worker process:
one workflow that runs its HTTP GETs one after another as plain activities — no
templates, no job state, no record, no events. ``python -m bench.workflow_raw``."""

from __future__ import annotations

import ssl
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import httpx

RAW_QUEUE = "bench-raw-workflows"

_tls: ssl.SSLContext | None = None


class RawSteps(BaseModel):
    urls: list[str]


@activity.defn(name="raw_http_get")
async def raw_http_get(url: str) -> dict[str, object]:
    """The same HTTP work as the HTTP connector: a fresh client (shared TLS context) per call.

    (A pooled keep-alive client is slower on loopback: delayed ACKs add ~40 ms a request.)
    """
    global _tls
    if _tls is None:
        _tls = httpx.create_ssl_context()
    async with httpx.AsyncClient(verify=_tls) as http:
        response = await http.get(url, timeout=30)
    return {"status": response.status_code, "body": response.json()}


@workflow.defn(name="RawStepsWorkflow")
class RawStepsWorkflow:
    @workflow.run
    async def run(self, data: RawSteps) -> int:
        for url in data.urls:
            await workflow.execute_activity(
                raw_http_get,
                url,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        return len(data.urls)


async def serve() -> None:
    from bench.raw_worker import serve_raw  # (here, not in the sandboxed module's imports)

    await serve_raw(RAW_QUEUE, [RawStepsWorkflow], [raw_http_get])


if __name__ == "__main__":
    from bench.raw_worker import run_raw

    run_raw(serve())
