"""Prometheus instruments that the API and the workers share (docs/observability.md).

Label values come from fixed sets (job kinds, outcomes): never an id or user input, so
the number of series stays bounded.
"""

from __future__ import annotations

from prometheus_client import Counter

JOBS_STARTED = Counter(
    "taskyard_jobs_started",
    "Jobs started, by kind (the jobs API's type).",
    ["kind"],
)
WEBHOOK_ATTEMPTS = Counter(
    "taskyard_webhook_delivery_attempts",
    "Webhook delivery attempts a worker recorded, by outcome: delivered, retry (will be "
    "tried again) or failed (final).",
    ["outcome"],
)
