"""Workflow definitions as the /api/v1 family shows them, and the service its handlers call.

Sealed secrets show as ``********``; another owner's credential and connector ids are
hidden (``engine.services.workflow_defs.shown_definition``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from api.state import services
from api.v1.workflow_schemas import WorkflowDetail, WorkflowSummary
from engine.models.runs import Definition
from engine.services.run_plans import check_definition
from engine.services.workflow_defs import WorkflowDefs, shown_definition
from store.db import as_utc
from store.workflows import WorkflowDef, WorkflowVersion


def service(request: Request) -> WorkflowDefs:
    s = services(request)
    return WorkflowDefs(s.settings, s.db, s.vault, s.jobs)


def check(raw: Any) -> None:
    """Step-by-step validation before the body model, so a 422 names the step and field."""
    if isinstance(raw, dict) and "definition" in raw and raw["definition"] is not None:
        check_definition(raw["definition"])


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
