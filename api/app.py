"""The Starlette application, assembled from plain lists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from api import observability
from api.auth import AuthCache
from api.bootstrap import ensure_admin_key
from api.codec import CodecCorsMiddleware
from api.codec import routes as codec_routes
from api.errors import EXCEPTION_HANDLERS
from api.integrations import admin as integrations_admin
from api.integrations import connections as integrations_connections
from api.integrations import oauth_flow as integrations_oauth
from api.integrations import sandbox as integrations_sandbox
from api.integrations import tools as integrations_tools
from api.limits import BodyLimitMiddleware, RouteLimit
from api.middleware import AuthRateLimitMiddleware
from api.observability import ObservabilityMiddleware, TracingMiddleware
from api.ratelimit import create_limiter
from api.state import Services
from api.v1 import apps as v1_apps
from api.v1 import connectors as v1_connectors
from api.v1 import credentials as v1_credentials
from api.v1 import docs as v1_docs
from api.v1 import executions as v1_executions
from api.v1 import schedules as v1_schedules
from api.v1 import tools, webhook_deliveries, webhooks
from api.v1 import triggers as v1_triggers
from api.v1 import workflows as v1_workflows
from api.v2 import enrichment as v2_enrichment
from api.v2 import health, jobs, keys, users
from api.v2 import lead_import as v2_lead_import
from api.v2 import leads as v2_leads
from api.v2 import linkedin as v2_linkedin
from api.v2 import linkedin_campaigns as v2_linkedin_campaigns
from api.v2 import linkedin_events as v2_linkedin_events
from api.v2 import user_integrations as v2_user_integrations
from engine.services import telemetry
from engine.services.events import EventPublisher
from engine.services.fair_share import FairShare
from engine.services.jobs import JobService
from engine.services.pagination import PageTokens
from engine.services.temporal import connect
from settings import Settings, get_settings
from store.db import Database
from store.vault import Vault

log = logging.getLogger("taskyard.api")

ROUTES: list[BaseRoute] = [
    *health.routes,
    *users.routes,
    *keys.routes,
    *jobs.routes,
    *v2_lead_import.routes,
    *v2_leads.routes,
    *v2_enrichment.routes,
    *v2_user_integrations.routes,
    *v2_linkedin.routes,
    *v2_linkedin_campaigns.routes,
    *v2_linkedin_events.routes,
    *tools.routes,
    *v1_credentials.routes,
    *v1_connectors.routes,
    *v1_apps.routes,
    *integrations_admin.routes,
    *integrations_connections.routes,
    *integrations_oauth.routes,
    *integrations_sandbox.routes,
    *integrations_tools.routes,
    *webhooks.routes,
    *webhook_deliveries.routes,
    *v1_workflows.routes,
    *v1_triggers.routes,
    *v1_executions.routes,
    *v1_schedules.routes,
    *v1_docs.routes,
]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    # (each uvicorn worker process builds its own app, so tracing is set up here)
    tracing = telemetry.setup_tracing("taskyard-api")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        db = Database(settings.database_url)
        master_keys = settings.master_key_ring()
        vault = Vault(master_keys)
        temporal = await connect(settings, lazy=True)
        limiter = create_limiter(settings.rate_limit_per_minute, settings.redis_url)
        bad_keys = create_limiter(
            settings.invalid_key_attempts_per_minute, settings.redis_url, "taskyard:badkey"
        )
        key_file = await ensure_admin_key(db, settings)
        if key_file:
            # Only where it is: stdout ends up in logs, the key must not.
            print(f"\n  Bootstrap admin key written to {key_file} (mode 0600)\n", flush=True)
        fair = FairShare(settings, db, temporal)
        svc = Services(
            settings=settings,
            db=db,
            vault=vault,
            temporal=temporal,
            jobs=JobService(
                temporal,
                task_queue_prefix=settings.task_queue_prefix,
                tokens=PageTokens(master_keys),
                fair=fair,
            ),
            events=EventPublisher.from_settings(temporal, settings, db),
            limiter=limiter,
            bad_keys=bad_keys,
            auth_cache=AuthCache(0.0 if settings.redis_url else settings.auth_cache_seconds),
            fair=fair,
        )
        try:
            yield svc.as_state()
        finally:
            await limiter.close()
            await bad_keys.close()
            await db.close()

    middleware = [
        Middleware(ObservabilityMiddleware, metrics=settings.api_metrics),
        Middleware(CodecCorsMiddleware, origins=settings.ui_origins()),
        Middleware(AuthRateLimitMiddleware),
        Middleware(
            BodyLimitMiddleware,
            default_bytes=settings.request_max_bytes,
            routes=[RouteLimit("POST", "/api/v2/leads/import", settings.leads_import_max_bytes)],
        ),
    ]
    if tracing:  # outermost, so the request's span is current in everything below it
        middleware.insert(0, Middleware(TracingMiddleware))
    return Starlette(
        # Temporal's codec protocol: outside ROUTES and the OpenAPI document.
        routes=[*observability.routes(with_metrics=settings.api_metrics), *ROUTES, *codec_routes],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
