"""Typed access to what the lifespan hands out (database, vault, Temporal, limiter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from temporalio.client import Client

from api.auth import AuthCache
from api.ratelimit import RateLimiter
from engine.services.events import EventPublisher
from engine.services.fair_share import FairShare
from engine.services.jobs import JobService
from settings import Settings
from store.db import Database
from store.vault import Vault


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: Vault
    temporal: Client
    jobs: JobService
    events: EventPublisher
    limiter: RateLimiter
    bad_keys: RateLimiter  # invalid-key attempts per client address
    auth_cache: AuthCache
    fair: FairShare  # fair share: priorities of starts, per-user quotas

    def as_state(self) -> dict[str, Any]:
        return {
            "services": self,
            "db": self.db,
            "limiter": self.limiter,
            "bad_keys": self.bad_keys,
            "auth_cache": self.auth_cache,
        }


def services(request: Request) -> Services:
    return request.state.services  # type: ignore[no-any-return]
