"""Per-user quotas: their names (as the admin and jobs APIs spell them) and their defaults.

Each quota's default is an operator setting (``TASKYARD_QUOTA_…``); an operator can
override any of them per user through ``PATCH /api/v2/users/{id}`` ``{"quotas": {...}}``.
A value of 0 means no cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from settings import Settings

# Quota name → the setting holding its default.
QUOTA_SETTINGS: dict[str, str] = {
    "runningToolExecutions": "quota_running_tool_executions",
    "runningWorkflowRuns": "quota_running_workflow_runs",
    "runningEnrichmentBatches": "quota_running_enrichment_batches",
    "runningLeadImports": "quota_running_lead_imports",
    "runningLinkedinActions": "quota_running_linkedin_actions",
    "webhookEndpoints": "quota_webhook_endpoints",
    "schedules": "quota_schedules",
    "scheduleMinIntervalSeconds": "quota_schedule_min_interval_seconds",
    "activeApiKeys": "max_active_keys_per_user",
    "bulkLinkedinTargets": "quota_bulk_linkedin_targets",
    "bulkImportRows": "quota_bulk_import_rows",
    "bulkEnrichmentLeads": "quota_bulk_enrichment_leads",
    "operatorEnrichmentPerMonth": "quota_operator_enrichment_per_month",
}
QUOTA_NAMES: tuple[str, ...] = tuple(QUOTA_SETTINGS)

# A job kind → the quota capping how many of a user's run at once.
RUNNING_QUOTA: dict[str, str] = {
    "tool_execution": "runningToolExecutions",
    "workflow_run": "runningWorkflowRuns",
    "data_enrichment": "runningEnrichmentBatches",
    "lead_import": "runningLeadImports",
    "linkedin_action": "runningLinkedinActions",
}

# How a quota reads in a message ("20 of 20 running tool executions").
NOUNS: dict[str, str] = {
    "runningToolExecutions": "running tool executions",
    "runningWorkflowRuns": "running workflow executions",
    "runningEnrichmentBatches": "running enrichment batches",
    "runningLeadImports": "running lead imports",
    "runningLinkedinActions": "running LinkedIn actions",
    "webhookEndpoints": "webhook endpoints",
    "schedules": "schedules",
    "activeApiKeys": "active API keys",
    "bulkLinkedinTargets": "LinkedIn targets per request",
    "bulkImportRows": "rows per import",
    "bulkEnrichmentLeads": "leads per enrichment batch",
    "operatorEnrichmentPerMonth": "leads enriched on the operator's keys this month",
}

OPERATOR_ENRICHMENT = "operator_enrichment"


def default(settings: Settings, name: str) -> int:
    return int(getattr(settings, QUOTA_SETTINGS[name]))


def effective(settings: Settings, overrides: Mapping[str, int], name: str) -> int:
    """The user's limit: the operator's override for this user, else the setting."""
    value = overrides.get(name)
    return int(value) if value is not None else default(settings, name)


def month_counter(now: datetime | None = None) -> tuple[str, float]:
    """This calendar month's operator-enrichment counter name, and seconds until it resets."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else (first.replace(month=first.month + 1))
    )
    return f"{OPERATOR_ENRICHMENT}:{now:%Y-%m}", (following - now).total_seconds()
