"""Queries of workflow definitions, their versions and their schedules' rows.

A definition's versions never change once written; its row keeps the current version
number. (Execution records and step outputs are in ``store.execution_repo``.)
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from sqlmodel import col, select

from store.db import Database, utcnow
from store.errors import NotFoundError
from store.workflows import WorkflowDef, WorkflowSchedule, WorkflowVersion


class WorkflowNotFound(NotFoundError):
    """No workflow with that id that the caller may see."""

    code = "WORKFLOW_NOT_FOUND"


class WorkflowVersionNotFound(NotFoundError):
    code = "WORKFLOW_VERSION_NOT_FOUND"


def _missing_workflow() -> WorkflowNotFound:
    return WorkflowNotFound("Workflow not found")


def _missing_version() -> WorkflowVersionNotFound:
    return WorkflowVersionNotFound("Workflow version not found")


async def insert_workflow(db: Database, row: WorkflowDef, version: WorkflowVersion) -> None:
    """A new workflow with its first version, in one transaction."""
    async with db.session() as session:
        session.add(row)
        await session.flush()
        session.add(version)
        await session.commit()


async def load(
    db: Database,
    user_id: str,
    workflow_id: str,
    *,
    visible: bool = False,
    version: int | None = None,
) -> tuple[WorkflowDef, WorkflowVersion]:
    """The caller's workflow (or, with ``visible``, a public one) and one of its versions
    (the current one unless ``version`` is given); ``WorkflowNotFound`` otherwise."""
    async with db.session() as session:
        row = await session.get(WorkflowDef, workflow_id)
        if row is None or not (row.user_id == user_id or (visible and row.is_public)):
            raise _missing_workflow()
        found = await session.get(WorkflowVersion, (workflow_id, version or row.version))
    if found is None:
        raise _missing_version()
    return row, found


async def current_version(
    db: Database, user_id: str, workflow_id: str, *, known: Container[tuple[str, int]] = ()
) -> tuple[int, WorkflowVersion | None]:
    """The current version number of the caller's workflow (one narrow read) and, unless
    ``(workflow_id, number)`` is in ``known`` (a cache of what it compiles to), that version's
    row, in one session; ``WorkflowNotFound`` otherwise."""
    async with db.session() as session:
        number = (
            await session.exec(
                select(WorkflowDef.version).where(
                    WorkflowDef.id == workflow_id, WorkflowDef.user_id == user_id
                )
            )
        ).first()
        if number is None:
            raise _missing_workflow()
        if (workflow_id, number) in known:
            return number, None
        found = await session.get(WorkflowVersion, (workflow_id, number))
    if found is None:
        raise _missing_version()
    return number, found


async def find_version(db: Database, workflow_id: str, version: int) -> WorkflowVersion | None:
    async with db.session() as session:
        return await session.get(WorkflowVersion, (workflow_id, version))


async def list_workflows(
    db: Database, user_id: str, *, public: bool, limit: int, offset: int
) -> list[WorkflowDef]:
    """The user's workflows (or, with ``public``, everyone's public ones), newest first."""
    statement = select(WorkflowDef)
    if public:
        statement = statement.where(col(WorkflowDef.is_public).is_(True))
    else:
        statement = statement.where(WorkflowDef.user_id == user_id)
    statement = statement.order_by(col(WorkflowDef.created_at).desc(), col(WorkflowDef.id))
    async with db.session() as session:
        return list((await session.exec(statement.offset(offset).limit(limit))).all())


async def update_workflow(
    db: Database,
    workflow_id: str,
    changes: dict[str, Any],
    new_version: WorkflowVersion | None,
) -> WorkflowDef:
    """Set ``changes`` (column → value) on the workflow and, with ``new_version``, add that
    version and make it current; one transaction."""
    async with db.session() as session:
        row = await session.get(WorkflowDef, workflow_id)
        if row is None:
            raise _missing_workflow()
        for name, value in changes.items():
            setattr(row, name, value)
        if new_version is not None:
            row.version = new_version.version
            session.add(new_version)
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
    return row


async def delete_workflow(db: Database, workflow_id: str) -> None:
    """Delete a workflow and its versions; a missing one is fine."""
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


async def insert_schedule(db: Database, row: WorkflowSchedule) -> None:
    await db.save(row)


async def get_schedule(db: Database, user_id: str, schedule_id: str) -> WorkflowSchedule | None:
    """The user's schedule row (another user's is the same as a missing one)."""
    return await db.get_owned(WorkflowSchedule, user_id, schedule_id)


async def schedules_of(db: Database, user_id: str, workflow_id: str) -> list[WorkflowSchedule]:
    """The user's schedules of one workflow, oldest first."""
    async with db.session() as session:
        rows = await session.exec(
            select(WorkflowSchedule)
            .where(WorkflowSchedule.workflow_id == workflow_id, WorkflowSchedule.user_id == user_id)
            .order_by(col(WorkflowSchedule.created_at))
        )
        return list(rows.all())


async def update_schedule(
    db: Database, schedule_id: str, changes: dict[str, Any]
) -> WorkflowSchedule | None:
    """Set ``changes`` (column → value) on a schedule row; None if it is gone."""
    async with db.session() as session:
        row = await session.get(WorkflowSchedule, schedule_id)
        if row is None:
            return None
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
    return row


async def delete_schedule(db: Database, schedule_id: str) -> None:
    """Delete a schedule row; a missing one is fine."""
    async with db.session() as session:
        row = await session.get(WorkflowSchedule, schedule_id)
        if row is not None:
            await session.delete(row)
            await session.commit()
