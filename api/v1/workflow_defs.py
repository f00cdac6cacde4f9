"""Saving, reading, copying and deleting workflow definitions (one function per handler).

Literal secrets in a step's config (``auth``, credential-bearing headers and
query parameters — the same rule as tool executions) are sealed when saved and
shown back as ``********``; sending ``********`` back on PUT keeps the sealed
value. Templated values (``{{input.token}}``) stay in the definition, since they
only get a value at run time. Copies of public workflows never carry the
owner's sealed secrets, credential ids or connector ids.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import NotFound, Unprocessable
from api.v1.workflow_schemas import WorkflowCreate, WorkflowDetail, WorkflowSummary, WorkflowUpdate
from engine.models.runs import REDACTED, Definition
from engine.services.definitions import DefinitionError, validate
from engine.services.sealing import NESTED, seal, split_secrets
from engine.workflows import templates
from store.db import Database, as_utc, utcnow
from store.models import SealedSecret
from store.vault import Vault, associated_data
from store.workflows import WorkflowDef, WorkflowVersion


def definition_error(exc: DefinitionError) -> Unprocessable:
    return Unprocessable(
        "Invalid workflow definition: " + str(exc),
        code="INVALID_DEFINITION",
        details={"errors": [p.as_dict() for p in exc.problems]},
    )


def check(raw: Any) -> None:
    """Step-by-step validation before the body model, so a 422 names the step and field."""
    if isinstance(raw, dict) and "definition" in raw and raw["definition"] is not None:
        try:
            validate(raw["definition"])
        except DefinitionError as exc:
            raise definition_error(exc) from exc


def _split(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Like tool sealing, but values holding templates stay public (they are not secrets yet)."""
    public, secret = split_secrets(config)
    kept: dict[str, Any] = {}
    for key, value in secret.items():
        if key in NESTED and isinstance(value, dict):
            templated = {k: v for k, v in value.items() if templates.has_template(v)}
            if templated:
                public[key] = {**public.get(key, {}), **templated}
            rest = {k: v for k, v in value.items() if k not in templated}
            if rest:
                kept[key] = rest
        elif templates.has_template(value):
            public[key] = value
        else:
            kept[key] = value
    return public, kept


def _keys(secret: dict[str, Any]) -> list[str]:
    return [
        f"{k}.{sub}" if sub is not None else k
        for k, v in secret.items()
        for sub in (v if k in NESTED and isinstance(v, dict) else [None])
    ]


async def _open(db: Database, vault: Vault, user_id: str, sealed_id: str) -> dict[str, Any]:
    async with db.session() as session:
        row = await session.get(SealedSecret, sealed_id)
    if row is None or row.user_id != user_id:
        return {}
    return dict(vault.decrypt_json(row.ciphertext, associated_data(user_id, "sealed", row.id)))


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
            for key, value in secret.items()
            for v in (value.values() if key in NESTED else [value])
        ]
        before = old.get(step["name"])
        if before and all(v == REDACTED for v in values) and before["keys"] == _keys(secret):
            sealed[step["name"]] = before
            continue
        if before and REDACTED in values:
            opened = await _open(db, vault, user_id, before["id"])
            for key, value in list(secret.items()):
                if key in NESTED and isinstance(value, dict):
                    secret[key] = {
                        k: (opened.get(key, {}).get(k) if v == REDACTED else v)
                        for k, v in value.items()
                    }
                elif value == REDACTED:
                    secret[key] = opened.get(key)
        sealed[step["name"]] = {"id": await seal(db, vault, user_id, secret), "keys": _keys(secret)}
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


def summary(row: WorkflowDef, user_id: str) -> WorkflowSummary:
    return WorkflowSummary(
        id=row.id,
        name=row.name,
        description=row.description,
        isPublic=row.is_public,
        version=row.version,
        owned=row.user_id == user_id,
        copiedFrom=row.copied_from,
        createdAt=as_utc(row.created_at),
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


def detail(row: WorkflowDef, version: WorkflowVersion, user_id: str) -> WorkflowDetail:
    owner = row.user_id == user_id
    return WorkflowDetail(
        **summary(row, user_id).model_dump(),
        definition=Definition.model_validate(shown_definition(version, owner=owner)),
    )


async def create(
    db: Database,
    vault: Vault,
    user_id: str,
    data: WorkflowCreate,
    *,
    copied_from: str | None = None,
) -> tuple[WorkflowDef, WorkflowVersion]:
    row = WorkflowDef(
        user_id=user_id,
        name=data.name,
        description=data.description,
        is_public=data.isPublic,
        copied_from=copied_from,
    )
    public, sealed = await _seal_steps(db, vault, user_id, data.definition, None)
    version = WorkflowVersion(workflow_id=row.id, version=1, definition=public, sealed=sealed)
    async with db.session() as session:
        session.add(row)
        await session.flush()
        session.add(version)
        await session.commit()
    return row, version


def _missing_workflow() -> NotFound:
    return NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")


async def load(
    db: Database,
    user_id: str,
    workflow_id: str,
    *,
    visible: bool = False,
    version: int | None = None,
) -> tuple[WorkflowDef, WorkflowVersion]:
    """The caller's workflow (or, with ``visible``, a public one); 404 otherwise."""
    async with db.session() as session:
        row = await session.get(WorkflowDef, workflow_id)
        if row is None or not (row.user_id == user_id or (visible and row.is_public)):
            raise _missing_workflow()
        ver = await load_version(session, workflow_id, version or row.version)
    return row, ver


async def current_version(session: AsyncSession, user_id: str, workflow_id: str) -> int:
    """The current version number of the caller's workflow (one narrow read); 404 otherwise."""
    found = (
        await session.exec(
            select(WorkflowDef.version).where(
                WorkflowDef.id == workflow_id, WorkflowDef.user_id == user_id
            )
        )
    ).first()
    if found is None:
        raise _missing_workflow()
    return found


async def load_version(session: AsyncSession, workflow_id: str, version: int) -> WorkflowVersion:
    ver = await session.get(WorkflowVersion, (workflow_id, version))
    if ver is None:
        raise NotFound("Workflow version not found", code="WORKFLOW_VERSION_NOT_FOUND")
    return ver


async def listing(
    db: Database, user_id: str, *, public: bool, limit: int, offset: int
) -> list[WorkflowDef]:
    statement = select(WorkflowDef)
    if public:
        statement = statement.where(col(WorkflowDef.is_public).is_(True))
    else:
        statement = statement.where(WorkflowDef.user_id == user_id)
    statement = statement.order_by(col(WorkflowDef.created_at).desc(), col(WorkflowDef.id))
    async with db.session() as session:
        return list((await session.exec(statement.offset(offset).limit(limit))).all())


async def update(
    db: Database, vault: Vault, user_id: str, workflow_id: str, data: WorkflowUpdate
) -> tuple[WorkflowDef, WorkflowVersion, bool]:
    """Apply a PUT; returns (workflow, current version, whether a version was added)."""
    row, current = await load(db, user_id, workflow_id)
    added = False
    new_version = current
    if data.definition is not None:
        public, sealed = await _seal_steps(db, vault, user_id, data.definition, current)
        if public != current.definition or sealed != current.sealed:
            new_version = WorkflowVersion(
                workflow_id=row.id, version=row.version + 1, definition=public, sealed=sealed
            )
            added = True
    async with db.session() as session:
        fresh = await session.get(WorkflowDef, workflow_id)
        assert fresh is not None
        if data.name is not None:
            fresh.name = data.name
        if "description" in data.model_fields_set:
            fresh.description = data.description
        if data.isPublic is not None:
            fresh.is_public = data.isPublic
        if added:
            fresh.version = new_version.version
            session.add(new_version)
        fresh.updated_at = utcnow()
        session.add(fresh)
        await session.commit()
    return fresh, new_version, added


async def copy(
    db: Database, vault: Vault, user_id: str, workflow_id: str, name: str | None
) -> tuple[WorkflowDef, WorkflowVersion]:
    row, version = await load(db, user_id, workflow_id, visible=True)
    # Stored definitions hold no secrets; another owner's credential and connector ids go too.
    shown = version.definition if row.user_id == user_id else shown_definition(version, owner=False)
    data = WorkflowCreate(
        name=name or f"{row.name} (copy)",
        description=row.description,
        definition=Definition.model_validate(shown),
        isPublic=False,
    )
    return await create(db, vault, user_id, data, copied_from=row.id)


async def remove(db: Database, user_id: str, workflow_id: str) -> None:
    """Delete a workflow and its versions; runs in flight carry their own plan and go on."""
    await load(db, user_id, workflow_id)
    async with db.session() as session:
        versions = (
            await session.exec(
                select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id)
            )
        ).all()
        for version in versions:
            await session.delete(version)
        await session.flush()
        row = await session.get(WorkflowDef, workflow_id)
        if row is not None:
            await session.delete(row)
        await session.commit()
