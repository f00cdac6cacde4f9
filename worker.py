"""Run Taskyard workers: ``python worker.py [--queue tools --queue webhooks ...]``.

Each job kind has its own task queue, so one process can serve every queue
(the dev default) or many machines can serve one queue each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.campaigns import CampaignActivities
from activities.connections import ConnectionActivities
from activities.credential_check import CredentialTestActivities
from activities.deps import ActivityDeps
from activities.enrichment import EnrichmentActivities
from activities.events import DeliveryStarter, EventActivities
from activities.lead_import import ImportActivities
from activities.linkedin import LinkedInActivities
from activities.rate_limits import ProviderLimits
from activities.run_slots import SlotKeeper
from activities.tools import ToolActivities
from activities.webhook_delivery import WebhookDeliveryActivities
from activities.workflow_steps import WorkflowStepActivities
from engine.models import queues
from engine.models.webhooks import DeliveryPolicy
from engine.services import logs, telemetry
from engine.services.temporal import connect
from engine.services.worker_ops import WorkerOpsServer
from engine.workflows.campaign_enrollment import CampaignEnrollmentWorkflow
from engine.workflows.connections import ConnectionWorkflow
from engine.workflows.credential_check import CredentialTestWorkflow
from engine.workflows.enrichment import EnrichmentBatchWorkflow
from engine.workflows.events import EventFanoutWorkflow
from engine.workflows.lead_import import LeadImportWorkflow
from engine.workflows.linkedin_action import LinkedInActionWorkflow
from engine.workflows.linkedin_connect import LinkedInConnectWorkflow
from engine.workflows.linkedin_governor import LinkedInGovernorWorkflow
from engine.workflows.linkedin_poller import LinkedInPollerWorkflow
from engine.workflows.rate_governor import RateGovernorWorkflow
from engine.workflows.tool_execution import ToolExecutionWorkflow
from engine.workflows.webhook_delivery import WebhookDeliveryWorkflow
from engine.workflows.workflow_run import WorkflowRunWorkflow
from settings import Settings, get_settings

log = logging.getLogger("taskyard.worker")


@dataclass
class QueuePlan:
    workflows: list[type] = field(default_factory=list)
    activities: list[Callable[..., Any]] = field(default_factory=list)


def event_publisher(deps: ActivityDeps) -> EventActivities:
    """The ``publish_events`` activity: every job workflow emits its events through it as a
    local activity on its own worker, so it is registered on every queue."""
    return EventActivities(deps.db, DeliveryStarter.from_settings(deps.settings, deps.db))


def webhook_delivery(deps: ActivityDeps) -> WebhookDeliveryActivities:
    s = deps.settings
    return WebhookDeliveryActivities(
        deps.db,
        deps.vault,
        DeliveryPolicy(
            timeout_seconds=s.webhook_timeout_seconds,
            max_backoff_seconds=s.webhook_max_backoff_seconds,
            error_after_failures=s.webhook_error_after_failures,
            disable_after_seconds=s.webhook_disable_after_seconds,
            allow_private_urls=s.allow_private_urls,
        ),
    )


def queue_plans(deps: ActivityDeps) -> dict[str, QueuePlan]:
    """What each task queue runs. A new job kind adds its workflows and activities here."""
    settings = deps.settings
    tools = ToolActivities(
        deps.secrets,
        base_urls=settings.base_urls(),
        allow_private_urls=settings.allow_private_urls,
        limits=ProviderLimits(settings),
    )
    credential_tests = CredentialTestActivities(
        deps.secrets,
        base_urls=settings.base_urls(),
        allow_private_urls=settings.allow_private_urls,
        timeout_seconds=settings.http_timeout_seconds,
    )
    connections = ConnectionActivities(
        deps.db,
        deps.vault,
        deps.secrets,
        base_urls=settings.base_urls(),
        oauth_clients=settings.oauth_clients(),
        timeout_seconds=settings.http_timeout_seconds,
    )
    enrichment = EnrichmentActivities.from_deps(deps)
    lead_import = ImportActivities.from_deps(deps)
    workflow_steps = WorkflowStepActivities(
        tools, deps.db, event_publisher(deps), SlotKeeper(deps.db, settings)
    )
    linkedin = LinkedInActivities(deps.db, deps.vault, settings)
    campaigns = CampaignActivities(deps.db, DeliveryStarter.from_settings(settings))
    delivery = webhook_delivery(deps)
    return {
        queues.LINKEDIN: QueuePlan(
            [
                LinkedInGovernorWorkflow,
                LinkedInActionWorkflow,
                LinkedInConnectWorkflow,
                CampaignEnrollmentWorkflow,
                LinkedInPollerWorkflow,
            ],
            [
                linkedin.perform_linkedin_action,
                linkedin.complete_linkedin_connection,
                campaigns.record_campaign_enrollment,
                campaigns.pause_account_campaigns,
                campaigns.poll_linkedin_events,
            ],
        ),
        queues.WORKFLOWS: QueuePlan(
            [WorkflowRunWorkflow],
            [
                workflow_steps.run_workflow_step,
                workflow_steps.load_step_outputs,
                workflow_steps.record_workflow_run,
                workflow_steps.finish_workflow_run,
                linkedin.prepare_linkedin_step,
            ],
        ),
        queues.WEBHOOKS: QueuePlan(
            [WebhookDeliveryWorkflow, EventFanoutWorkflow],
            [delivery.attempt_webhook_delivery, delivery.mark_webhook_delivery],
        ),
        queues.ENRICHMENT: QueuePlan(
            [EnrichmentBatchWorkflow, LeadImportWorkflow],
            [
                enrichment.prepare_enrichment_batch,
                enrichment.enrich_leads_chunk,
                enrichment.finish_enrichment_batch,
                lead_import.import_lead_rows,
            ],
        ),
        queues.TOOLS: QueuePlan(
            [ToolExecutionWorkflow, CredentialTestWorkflow, ConnectionWorkflow],
            [
                tools.run_tool_action,
                credential_tests.test_credential,
                connections.exchange_authorization_code,
                connections.refresh_connection,
                connections.mark_connection,
            ],
        ),
        # Served by every process whatever it was asked for (build_workers).
        queues.RATES: QueuePlan([RateGovernorWorkflow]),
    }


def build_workers(
    client: Client, deps: ActivityDeps, selected: Sequence[str] | None = None
) -> list[Worker]:
    plans = queue_plans(deps)
    names = list(selected) if selected else list(plans)
    unknown = [n for n in names if n not in plans]
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(plans)}")
    if queues.RATES not in names:  # provider budgets hold only if every process serves them
        names.append(queues.RATES)
    return [queue_worker(client, deps, name, plans[name]) for name in names]


def queue_worker(client: Client, deps: ActivityDeps, name: str, plan: QueuePlan) -> Worker:
    """The worker for one queue's plan (tests pass a plan with an activity swapped)."""
    return Worker(
        client,
        task_queue=queues.task_queue(deps.settings.task_queue_prefix, name),
        workflows=plan.workflows,
        # Every job workflow emits its events through this local activity on its own worker.
        activities=[*plan.activities, event_publisher(deps).publish_events],
        graceful_shutdown_timeout=timedelta(seconds=5),
        interceptors=telemetry.worker_interceptors(client),
        # Tasks taken at once, when the operator sized them (None: the SDK's default). Fewer
        # leave a backlog waiting in Temporal, where priority and fairness order it, rather
        # than in the worker (docs/fairness.md).
        max_concurrent_workflow_tasks=deps.settings.worker_max_concurrent_workflow_tasks or None,
        max_concurrent_activities=deps.settings.worker_max_concurrent_activities or None,
    )


def pollers_ready(workers: Sequence[Worker]) -> Callable[[], bool]:
    """Readiness of a worker process: every worker started and none shut down."""
    return lambda: bool(workers) and all(w.is_running for w in workers)


async def run(settings: Settings, selected: Sequence[str] | None) -> None:
    telemetry.setup_tracing("taskyard-worker")
    runtime, sdk_metrics_url = None, None
    if settings.worker_metrics_port is not None:
        runtime, sdk_metrics_url = telemetry.sdk_metrics_runtime()
    client = await connect(settings, runtime=runtime)
    deps = ActivityDeps.from_settings(settings)
    workers = build_workers(client, deps, selected)
    ops = None
    if settings.worker_metrics_port is not None:
        ops = WorkerOpsServer(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            ready=pollers_ready(workers),
            sdk_metrics_url=sdk_metrics_url,
        )
        await ops.start()
    # What start-up built (modules, models, workers) lives as long as the process: moved out
    # of the collector's generations, a full collection no longer walks it.
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    names = ", ".join(w.task_queue for w in workers)
    log.info("worker serving %s", names)  # (on stdout: a supervisor may wait for this line)
    if ops is not None:
        log.info("worker metrics, liveness and readiness on port %d", ops.port)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    if ops is not None:
        await ops.stop()
    for task in tasks:
        if task.done() and task.exception():
            raise task.exception()  # type: ignore[misc]  # re-raise a worker crash
    await deps.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--queue", action="append", choices=queues.ALL, help="serve this queue (repeatable)"
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    # The process's own loop (activities, polling) on uvloop where it exists, as the API's;
    # workflow code runs on the SDK's deterministic loop either way.
    try:
        import uvloop
    except ImportError:  # (Windows: no uvloop)
        asyncio.run(run(settings, args.queue))
    else:
        uvloop.run(run(settings, args.queue))


if __name__ == "__main__":
    main()
