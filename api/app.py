"""The Starlette application, assembled from plain lists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from api.bootstrap import ensure_admin_key
from api.errors import EXCEPTION_HANDLERS
from api.middleware import AuthRateLimitMiddleware
from api.ratelimit import create_limiter
from api.state import Services
from api.v1 import tools
from api.v2 import health, jobs, keys, users
from engine.client import connect
from engine.service import JobService
from settings import Settings, get_settings
from store.db import Database
from store.vault import Vault

log = logging.getLogger("taskyard.api")

ROUTES: list[BaseRoute] = [
    *health.routes,
    *users.routes,
    *keys.routes,
    *jobs.routes,
    *tools.routes,
]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        db = Database(settings.database_url)
        vault = Vault(settings.master_key_ring())
        temporal = await connect(settings)
        limiter = create_limiter(settings.rate_limit_per_minute, settings.redis_url)
        new_admin = await ensure_admin_key(db, settings)
        if new_admin:
            print(
                "\n  Bootstrap admin key (shown once, store it now):\n"
                f"    {new_admin}\n",
                flush=True,
            )
        svc = Services(
            settings=settings,
            db=db,
            vault=vault,
            temporal=temporal,
            jobs=JobService(temporal, task_queue_prefix=settings.task_queue_prefix),
            limiter=limiter,
        )
        try:
            yield svc.as_state()
        finally:
            await limiter.close()
            await db.close()

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(AuthRateLimitMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
