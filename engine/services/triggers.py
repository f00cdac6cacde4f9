"""Inbound triggers: a per-workflow URL with a secret that starts an execution from any
external webhook, the request body as the run's input.

``POST /api/v1/workflows/{id}/trigger/{token}`` needs no API key: the token (shown once,
stored hashed) is the credential. A JSON object body is the input; any other JSON value
arrives as ``{"body": value}``. The run is the workflow owner's, exactly as if they had
called execute (same credential checks; ``Idempotency-Key`` works the same).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from engine.services.jobs import JobService
from engine.services.runs import RunService, Started
from settings import Settings
from store import trigger_repo, workflow_repo
from store.db import Database
from store.errors import NotFoundError
from store.trigger_repo import WorkflowTrigger
from store.vault import Vault

TOKEN_PREFIX = "wtk_"


class TriggerNotFound(NotFoundError):
    code = "TRIGGER_NOT_FOUND"


@dataclass(frozen=True)
class NewTrigger:
    row: WorkflowTrigger
    token: str
    url: str


def trigger_path(workflow_id: str, token: str) -> str:
    return f"/api/v1/workflows/{workflow_id}/trigger/{token}"


class TriggerService:
    def __init__(self, settings: Settings, db: Database, vault: Vault, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.vault = vault
        self.jobs = jobs

    async def create(self, user_id: str, workflow_id: str) -> NewTrigger:
        """Make the workflow's trigger, or rotate its secret (the old URL stops working)."""
        await workflow_repo.load(self.db, user_id, workflow_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = await trigger_repo.save_trigger(self.db, user_id, workflow_id, token)
        url = self.settings.api_base_url + trigger_path(workflow_id, token)
        return NewTrigger(row, token, url)

    async def get(self, user_id: str, workflow_id: str) -> WorkflowTrigger:
        await workflow_repo.load(self.db, user_id, workflow_id)
        row = await trigger_repo.get_trigger(self.db, user_id, workflow_id)
        if row is None:
            raise TriggerNotFound("This workflow has no trigger URL")
        return row

    async def remove(self, user_id: str, workflow_id: str) -> None:
        await workflow_repo.load(self.db, user_id, workflow_id)
        if not await trigger_repo.delete_trigger(self.db, user_id, workflow_id):
            raise TriggerNotFound("This workflow has no trigger URL")

    async def fire(
        self, workflow_id: str, token: str, body: Any, idempotency_key: str | None
    ) -> Started:
        """Start an execution as the workflow's owner; an unknown token is a 404."""
        row = await trigger_repo.match_trigger(self.db, workflow_id, token)
        if row is None:
            raise TriggerNotFound("No such trigger")
        data = body if isinstance(body, dict) else {"body": body}
        runs = RunService(self.settings, self.db, self.vault, self.jobs)
        return await runs.execute(row.user_id, workflow_id, data, idempotency_key)
