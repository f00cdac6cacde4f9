"""``GET /api/v2/health`` (no key): database, Temporal, Redis, API."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.ratelimit import RedisRateLimiter
from api.spec import operation
from api.state import Services, services

VERSION = "2.0"
CHECK_TIMEOUT = 2.0


class HealthServices(BaseModel):
    database: str
    temporal: str
    redis: str
    api: str


class Health(BaseModel):
    model_config = ConfigDict(title="HealthCheck200Response")

    status: str
    timestamp: str
    version: str
    services: HealthServices
    response_time: int


async def database_status(s: Services) -> str:
    await s.db.ping()
    return "healthy"


async def temporal_status(s: Services) -> str:
    ok = await s.temporal.service_client.check_health()
    return "healthy" if ok else "down"


async def redis_status(s: Services) -> str:
    if not isinstance(s.limiter, RedisRateLimiter):
        return "disabled"
    return "healthy" if await s.limiter.ping() else "down"


async def checked(probe: object) -> str:
    try:
        return await asyncio.wait_for(probe, CHECK_TIMEOUT)  # type: ignore[arg-type]
    except Exception:
        return "down"


@operation(
    "Health of the API, database, Temporal and Redis",
    tag="Health",
    operation_id="health_check",
    responses={200: Health, 503: Health},
    description="No key needed. 503 when the database is down; `degraded` when Temporal "
    "or Redis is.",
)
async def health(request: Request) -> JSONResponse:
    started = time.perf_counter()
    s = services(request)
    database, temporal, redis = await asyncio.gather(
        checked(database_status(s)), checked(temporal_status(s)), checked(redis_status(s))
    )
    checks = {"database": database, "temporal": temporal, "redis": redis, "api": "healthy"}
    if database == "down":
        status = "down"
    elif "down" in (temporal, redis):
        status = "degraded"
    else:
        status = "healthy"
    body = {
        "status": status,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": VERSION,
        "services": checks,
        "response_time": int((time.perf_counter() - started) * 1000),
    }
    return JSONResponse(body, status_code=503 if status == "down" else 200)


routes = [Route("/api/v2/health", health, methods=["GET"])]
