"""Task-queue names, in one place. Each job kind has its own queue so workers scale per kind."""

from __future__ import annotations

TOOLS = "tools"
WORKFLOWS = "workflows"
WEBHOOKS = "webhooks"
LINKEDIN = "linkedin"
ENRICHMENT = "enrichment"

ALL: tuple[str, ...] = (TOOLS, WORKFLOWS, WEBHOOKS, LINKEDIN, ENRICHMENT)
# Provider rate governors (engine.workflows.rate_governor): every worker process serves it
# besides the queues it was asked for, so a governor never lacks a worker.
RATES = "rates"


def task_queue(prefix: str, name: str) -> str:
    """The full queue name; the prefix lets several deployments share one namespace."""
    return f"{prefix}-{name}" if prefix else name
