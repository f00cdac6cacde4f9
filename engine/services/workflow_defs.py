"""Saving, copying and deleting workflow definitions for the API.

Literal secrets in a step's config (``auth``, credential-bearing headers and
query parameters — the same rule as tool executions) are sealed when saved and
shown back as ``********``; sending ``********`` back on PUT keeps the sealed
value. Templated values (``{{input.token}}``) stay in the definition, since they
only get a value at run time. Copies of public workflows never carry the
owner's sealed secrets, credential ids or connector ids. A new version moves the
workflow's schedules to it; deleting a workflow deletes its schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.models.runs import REDACTED, Definition
from engine.services.jobs import JobService
from engine.services.sealing import NESTED, is_secret_name, open_sealed, seal, split_secrets
from engine.services.workflow_schedules import WorkflowSchedules
from engine.workflows import templates
from settings import Settings
from store import workflow_repo
from store.db import Database
from store.vault import Vault
from store.workflows import WorkflowDef, WorkflowVersion


@dataclass(frozen=True)
class WorkflowSpec:
    """A new workflow, as sent."""

    name: str
    description: str | None
    definition: Definition
    is_public: bool = False


@dataclass(frozen=True)
class WorkflowChange:
    """What a PUT sends (None: keep); ``set_description`` says whether ``description`` was
    sent (null clears it)."""

    name: str | None = None
    description: str | None = None
    set_description: bool = False
    definition: Definition | None = None
    is_public: bool | None = None


def _split(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Like tool sealing, but values holding templates stay public (they are not secrets
    yet: what they read is sealed at run time). An object such as ``auth`` with templated
    members is split member by member: its literal credentials are still sealed, its
    templates and plain settings (``type``) stay in the definition."""
    public, secret = split_secrets(config)
    kept: dict[str, Any] = {}
    for key, value in secret.items():
        if isinstance(value, dict) and (key in NESTED or templates.has_template(value)):
            plain = {
                k: v
                for k, v in value.items()
                if templates.has_template(v) or (key not in NESTED and not is_secret_name(k))
            }
            if plain:
                public[key] = {**public.get(key, {}), **plain}
            rest = {k: v for k, v in value.items() if k not in plain}
            if rest:
                kept[key] = rest
        elif templates.has_template(value):
            public[key] = value
        else:
            kept[key] = value
    return public, kept


def _keys(secret: dict[str, Any], public: dict[str, Any]) -> list[str]:
    """Where the sealed values go back: ``auth`` for a whole object, ``auth.password`` for
    a member of one that is partly in the definition."""
    return [
        f"{k}.{sub}" if sub is not None else k
        for k, v in secret.items()
        for sub in (v if isinstance(v, dict) and (k in NESTED or k in public) else [None])
    ]


async def _seal_steps(
    db: Database,
    vault: Vault,
    user_id: str,
    definition: Definition,
    previous: WorkflowVersion | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public definition, {step: {"id", "keys"}}) with literal secrets sealed.

    A step whose secrets all come back as ``********`` keeps its sealed row;
    a mix of old and new values is resealed.
    """
    public = definition.public()
    sealed: dict[str, Any] = {}
    old = previous.sealed if previous is not None else {}
    for step in public["steps"]:
        if step["type"] in ("delay", "condition"):
            continue
        config, secret = _split(step.get("config", {}))
        step["config"] = config
        if not secret:
            continue
        values = [
            v
            for value in secret.values()
            for v in (value.values() if isinstance(value, dict) else [value])
        ]
        before = old.get(step["name"])
        if (
            before
            and all(v == REDACTED for v in values)
            and before["keys"] == _keys(secret, config)
        ):
            sealed[step["name"]] = before
            continue
        if before and REDACTED in values:
            opened = await open_sealed(db, vault, user_id, before["id"])
            for key, value in list(secret.items()):
                if isinstance(value, dict):
                    secret[key] = {
                        k: (opened.get(key, {}).get(k) if v == REDACTED else v)
                        for k, v in value.items()
                    }
                elif value == REDACTED:
                    secret[key] = opened.get(key)
        sealed[step["name"]] = {
            "id": await seal(db, vault, user_id, secret),
            "keys": _keys(secret, config),
        }
    return public, sealed


def shown_definition(version: WorkflowVersion, *, owner: bool) -> dict[str, Any]:
    """The stored definition with sealed values as ``********``; ids hidden from non-owners."""
    data: dict[str, Any] = {
        **version.definition,
        "steps": [dict(s) for s in version.definition["steps"]],
    }
    for step in data["steps"]:
        if not owner:
            step.pop("credentialId", None)
            step.pop("connectorId", None)
            continue
        entry = version.sealed.get(step["name"])
        if not entry:
            continue
        config = {
            k: (dict(v) if isinstance(v, dict) else v) for k, v in step.get("config", {}).items()
        }
        for key in entry["keys"]:
            top, _, sub = key.partition(".")
            if sub:
                config.setdefault(top, {})[sub] = REDACTED
            else:
                config[top] = REDACTED
        step["config"] = config
    return data


class WorkflowDefs:
    """Every call names the caller; another user's private workflow is a 404."""

    def __init__(self, settings: Settings, db: Database, vault: Vault, jobs: JobService) -> None:
        self.db = db
        self.vault = vault
        self.schedules = WorkflowSchedules(settings, db, vault, jobs)

    async def create(
        self, user_id: str, spec: WorkflowSpec, *, copied_from: str | None = None
    ) -> tuple[WorkflowDef, WorkflowVersion]:
        row = WorkflowDef(
            user_id=user_id,
            name=spec.name,
            description=spec.description,
            is_public=spec.is_public,
            copied_from=copied_from,
        )
        public, sealed = await _seal_steps(self.db, self.vault, user_id, spec.definition, None)
        version = WorkflowVersion(workflow_id=row.id, version=1, definition=public, sealed=sealed)
        await workflow_repo.insert_workflow(self.db, row, version)
        return row, version

    async def update(
        self, user_id: str, workflow_id: str, change: WorkflowChange
    ) -> tuple[WorkflowDef, WorkflowVersion]:
        """Apply a PUT; a changed definition becomes a new version, and the workflow's
        schedules move to it. Returns the workflow and its current version."""
        row, current = await workflow_repo.load(self.db, user_id, workflow_id)
        new_version = None
        if change.definition is not None:
            public, sealed = await _seal_steps(
                self.db, self.vault, user_id, change.definition, current
            )
            if public != current.definition or sealed != current.sealed:
                new_version = WorkflowVersion(
                    workflow_id=row.id, version=row.version + 1, definition=public, sealed=sealed
                )
        columns: dict[str, Any] = {}
        if change.name is not None:
            columns["name"] = change.name
        if change.set_description:
            columns["description"] = change.description
        if change.is_public is not None:
            columns["is_public"] = change.is_public
        fresh = await workflow_repo.update_workflow(self.db, workflow_id, columns, new_version)
        if new_version is not None:
            await self.schedules.refresh_all(user_id, fresh.id)
        return fresh, new_version or current

    async def copy(
        self, user_id: str, workflow_id: str, name: str | None
    ) -> tuple[WorkflowDef, WorkflowVersion]:
        """A private copy of the caller's own or a public workflow."""
        row, version = await workflow_repo.load(self.db, user_id, workflow_id, visible=True)
        # Stored definitions hold no secrets; another owner's credential and connector ids go too.
        shown = (
            version.definition if row.user_id == user_id else shown_definition(version, owner=False)
        )
        spec = WorkflowSpec(
            name=name or f"{row.name} (copy)",
            description=row.description,
            definition=Definition.model_validate(shown),
        )
        return await self.create(user_id, spec, copied_from=row.id)

    async def remove(self, user_id: str, workflow_id: str) -> None:
        """Delete a workflow, its versions and its schedules; runs in flight carry their own
        plan and go on."""
        await workflow_repo.load(self.db, user_id, workflow_id)
        await self.schedules.remove_all(user_id, workflow_id)
        await workflow_repo.delete_workflow(self.db, workflow_id)
