"""What operators see: one trace per job, Prometheus metrics, JSON logs, probes, summaries."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.sdk.v1 import WorkflowMetadata

from engine.services import logs, telemetry
from tests.conftest import Stack, make_settings, new_user, run_stack, wait_for

CANARY = "canary-0b5e7a11-secret"


@contextlib.contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every line this process logs meanwhile, formatted as in production (JSON, INFO, the
    same quiet loggers)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", *logs.QUIET)}
    root.setLevel(logging.INFO)
    for name in logs.QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(found: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(v for n, lab, v in found if n == name and labels.items() <= lab.items())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_one_trace_runs_from_the_request_to_the_vendor_call(
    temporal_env, database_url: str, tmp_path, target
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(provider)
    try:
        settings = make_settings(temporal_env, database_url, tmp_path)
        async with run_stack(temporal_env, settings) as traced:
            _user, key = await new_user(traced)
            async with traced.api(key) as api:
                r = await api.post(
                    "/api/v1/tools/execute",
                    params={"token": CANARY},
                    json={
                        "toolName": "HTTP_REQUEST",
                        "params": {
                            "method": "GET",
                            "url": target.base_url + "/sink",
                            "query": {"key": CANARY},
                            "auth": {"type": "bearer", "token": CANARY},
                        },
                    },
                )
            assert r.status_code == 200, r.text
            job_id = r.json()["executionId"]
            trace_id = int(r.headers["x-trace-id"], 16)
            # A trigger URL's path holds its secret: spans name the route, never the path.
            async with traced.api() as anon:
                fired = await anon.post(f"/api/v1/workflows/wf_nope/trigger/{CANARY}", json={})
            assert fired.status_code == 404, fired.text

            def in_trace() -> list[ReadableSpan]:
                return [
                    s
                    for s in exporter.get_finished_spans()
                    if s.context is not None and s.context.trace_id == trace_id
                ]

            async def complete() -> list[ReadableSpan] | None:
                spans = in_trace()
                names = {s.name for s in spans}
                return spans if "POST /api/v1/tools/execute" in names else None

            spans = await wait_for(complete)

            async def trigger_span() -> bool:
                return any(
                    s.name == "POST /api/v1/workflows/{id}/trigger/{token}"
                    for s in exporter.get_finished_spans()
                )

            await wait_for(trigger_span)
            every = exporter.get_finished_spans()
    finally:
        telemetry.uninstall()
        provider.shutdown()
    by_name = {s.name: s for s in spans}
    api_span = by_name["POST /api/v1/tools/execute"]
    assert api_span.kind == SpanKind.SERVER
    assert api_span.attributes["taskyard.job_id"] == job_id
    assert api_span.attributes["http.route"] == "/api/v1/tools/execute"
    for name in (
        "StartWorkflow:ToolExecutionWorkflow",
        "RunWorkflow:ToolExecutionWorkflow",
        "StartActivity:run_tool_action",
        "RunActivity:run_tool_action",
        "http HTTP_REQUEST",
    ):
        assert name in by_name, (name, sorted(by_name))
        assert by_name[name].attributes["taskyard.job_id"] == job_id
    [outbound] = [
        s
        for s in spans
        if s.kind == SpanKind.CLIENT
        and s.instrumentation_scope.name.endswith("httpx")
        and s.attributes.get("taskyard.job_id") == job_id
    ]
    # The vendor call descends from the API request: follow its parents up.
    parents = {s.context.span_id: s for s in spans if s.context is not None}
    chain, at = [], outbound
    while at.parent is not None and at.parent.span_id in parents:
        at = parents[at.parent.span_id]
        chain.append(at.name)
    assert "RunActivity:run_tool_action" in chain and "POST /api/v1/tools/execute" in chain
    # No span carries a query string, a header, a path or a secret.
    for span in every:
        assert CANARY not in span.name
        assert CANARY not in json.dumps(dict(span.attributes or {}), default=str), span.name


async def test_metrics_count_started_jobs_and_requests_by_route(stack: Stack, target) -> None:
    user_id, key = await new_user(stack)
    async with stack.api(key) as api:
        before = samples((await api.get("/metrics")).text)
        r = await api.post(
            "/api/v1/tools/execute",
            json={
                "toolName": "HTTP_REQUEST",
                "params": {"url": target.base_url + "/sink"},
                "async": True,
            },
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["executionId"]
        assert (await api.get(f"/api/v2/users/jobs/{job_id}")).status_code == 200
        scrape = await api.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    after = samples(scrape.text)
    kind = {"kind": "tool_execution"}
    assert value(after, "taskyard_jobs_started_total", **kind) >= (
        value(before, "taskyard_jobs_started_total", **kind) + 1
    )
    route = {"method": "POST", "route": "/api/v1/tools/execute", "status": "202"}
    assert value(after, "taskyard_http_requests_total", **route) >= (
        value(before, "taskyard_http_requests_total", **route) + 1
    )
    one_job = {"method": "GET", "route": "/api/v2/users/jobs/{job_id}"}
    assert value(after, "taskyard_http_request_duration_seconds_count", **one_job) >= 1
    # Label values are route templates and fixed names: never an id.
    for _name, labels, _value in after:
        for label in labels.values():
            assert job_id not in label and user_id not in label


async def test_log_lines_are_json_with_request_user_and_job_ids(stack: Stack, target) -> None:
    user_id, key = await new_user(stack)
    with captured_logs() as lines:
        async with stack.api(key) as api:
            r = await api.post(
                "/api/v1/tools/execute",
                headers={"X-Request-Id": "req-observe-1"},
                json={
                    "toolName": "HTTP_REQUEST",
                    "params": {"url": target.base_url + "/sink"},
                    "async": True,
                },
            )
            minted = await api.get("/livez")
    assert r.status_code == 202 and r.headers["x-request-id"] == "req-observe-1"
    assert len(minted.headers["x-request-id"]) == 32  # one is made when none is sent
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    [access] = [
        e
        for e in entries
        if e["logger"] == "taskyard.access" and e.get("request_id") == "req-observe-1"
    ]
    assert access["route"] == "/api/v1/tools/execute" and access["status"] == 202
    assert access["method"] == "POST" and access["duration_ms"] >= 0
    assert access["job_id"] == r.json()["executionId"] and access["user_id"] == user_id
    assert {"time", "level", "message"} <= access.keys()


async def test_no_secret_reaches_any_log_line(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    with captured_logs() as lines:
        async with stack.api(key) as api:
            hook = await api.post(
                "/api/v1/webhooks",
                json={
                    "name": "canary",
                    "url": target.base_url + "/sink",
                    "events": ["tool.completed", "tool.failed"],
                    "headers": {"Authorization": f"Bearer {CANARY}"},
                },
            )
            assert hook.status_code == 201, hook.text
            webhook_secret = hook.json()["secret"]
            credential = await api.post(
                "/api/v1/credentials",
                json={
                    "name": "smtp",
                    "provider": "smtp",
                    "data": {
                        "host": "127.0.0.1",
                        "port": closed_port(),
                        "user": "ada",
                        "password": CANARY,
                    },
                },
            )
            assert credential.status_code == 201, credential.text
            tested = await api.post(f"/api/v1/credentials/{credential.json()['id']}/test")
            assert tested.status_code in (200, 202), tested.text
            for url in (target.base_url + "/sink", f"http://127.0.0.1:{closed_port()}/"):
                await api.post(
                    "/api/v1/tools/execute",
                    json={
                        "toolName": "HTTP_REQUEST",
                        "params": {
                            "method": "POST",
                            "url": url,
                            "query": {"api_key": CANARY},
                            "headers": {"X-Api-Key": CANARY},
                            "auth": {"type": "basic", "username": "ann", "password": CANARY},
                            "timeout": 2,
                        },
                    },
                )

        async def delivered() -> bool:
            return any(r.headers.get("x-webhook-event") for r in target.requests)

        await wait_for(delivered)
    text = "\n".join(lines)
    assert "taskyard.access" in text  # the capture saw the requests
    for secret in (CANARY, key, webhook_secret):
        assert secret not in text


async def test_probes_and_readiness(stack: Stack) -> None:
    async with stack.api() as api:
        live = await api.get("/livez")
        ready = await api.get("/readyz")
        health = await api.get("/api/v2/health")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "healthy", "temporal": "healthy", "redis": "disabled"},
    }
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert "x-ratelimit-limit" not in live.headers  # probes are not rate limited


async def test_not_ready_while_temporal_is_unreachable(
    temporal_env, database_url: str, tmp_path
) -> None:
    settings = make_settings(
        temporal_env, database_url, tmp_path, temporal_address=f"127.0.0.1:{closed_port()}"
    )
    async with run_stack(temporal_env, settings, with_worker=False) as cut_off:
        async with cut_off.api() as api:
            live = await api.get("/livez")
            ready = await api.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["checks"]["temporal"] == "down"
    assert ready.json()["checks"]["database"] == "healthy"


async def test_jobs_carry_a_summary_and_live_details(stack: Stack, target) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        await api.post(
            "/api/v1/webhooks",
            json={"name": "s", "url": target.base_url + "/sink", "events": ["tool.completed"]},
        )
        r = await api.post(
            "/api/v1/tools/execute",
            json={"toolName": "HTTP_REQUEST", "params": {"url": target.base_url + "/sink"}},
        )
    assert r.status_code == 200, r.text
    handle = stack.client.get_workflow_handle(r.json()["executionId"])
    description = await handle.describe()
    assert await description.static_summary() == "tool HTTP_REQUEST"
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details == "completed · 100% · HTTP_REQUEST completed"

    async def delivery() -> Any:
        found = [
            e
            async for e in stack.client.list_workflows(
                f"WorkflowType = 'WebhookDeliveryWorkflow' AND TaskyardUserId = '{_user}'"
            )
        ]
        return found[0] if found else None

    execution = await wait_for(delivery)
    described = await stack.client.get_workflow_handle(execution.id).describe()
    assert await described.static_summary() == "webhook tool.completed → 127.0.0.1"


def test_summaries_name_targets_but_carry_no_personal_data() -> None:
    from engine.models import summaries

    assert summaries.tool("HTTP_REQUEST") == "tool HTTP_REQUEST"
    assert (
        summaries.webhook_delivery("tool.completed", host="hooks.example.com")
        == "webhook tool.completed → hooks.example.com"
    )
    assert summaries.host_of("https://ann:pw@hooks.example.com:8443/x?token=1") == (
        "hooks.example.com"
    )
    linkedin = summaries.linkedin_action(
        "sendMessage", "https://www.linkedin.com/in/ann-lee/?email=ann@example.com", "acc_1"
    )
    assert linkedin == "LinkedIn sendMessage → /in/ann-lee via account acc_1"
    assert summaries.workflow_run("wf_x", 3) == "workflow wf_x v3"
    assert len(summaries.event_fanout([f"event.{i}" for i in range(100)])) <= 200


async def test_not_ready_while_a_configured_redis_is_unreachable(
    temporal_env, database_url: str, tmp_path
) -> None:
    settings = make_settings(
        temporal_env, database_url, tmp_path, redis_url=f"redis://127.0.0.1:{closed_port()}/0"
    )
    async with run_stack(temporal_env, settings, with_worker=False) as cut_off:
        async with cut_off.api() as api:
            ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "healthy", "temporal": "healthy", "redis": "down"}


async def test_rate_limit_rejections_are_counted(temporal_env, database_url: str, tmp_path) -> None:
    settings = make_settings(temporal_env, database_url, tmp_path, rate_limit_per_minute=2)
    async with run_stack(temporal_env, settings, with_worker=False) as limited:
        async with limited.api() as anonymous:
            before = value(samples((await anonymous.get("/metrics")).text), REJECTED, by="ip")
            codes = [(await anonymous.get("/api/v2/health")).status_code for _ in range(4)]
            after = value(samples((await anonymous.get("/metrics")).text), REJECTED, by="ip")
    assert 429 in codes
    assert after - before == codes.count(429)


REJECTED = "taskyard_rate_limit_rejections_total"


def test_worker_lines_carry_workflow_task_queue_and_activity() -> None:
    record = logging.LogRecord("temporalio.activity", logging.WARNING, __file__, 1, "x", (), None)
    record.temporal_activity = {
        "activity_id": "1",
        "activity_type": "run_tool_action",
        "task_queue": "taskyard-tools",
        "workflow_id": "exec_1",
        "workflow_type": "ToolExecutionWorkflow",
    }
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["workflow_id"] == entry["job_id"] == "exec_1"
    assert entry["task_queue"] == "taskyard-tools" and entry["activity"] == "run_tool_action"
    text = logs.TextFormatter().format(record)
    assert text.endswith(
        "[job_id=exec_1 workflow_id=exec_1 task_queue=taskyard-tools activity=run_tool_action]"
    )
