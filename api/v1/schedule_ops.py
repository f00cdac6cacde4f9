"""Schedules of workflows (one function per handler); Temporal Schedules run them.

Cron is checked here (five fields, or ``@hourly``-style names) and the time
zone must be an IANA name; Temporal has the last word and its refusal is a 422
too. The row in ``workflow_schedules`` keeps what the user wrote; Temporal keeps
the pause state, the next run times and the runs.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import col, select
from temporalio.service import RPCError, RPCStatusCode

from api.errors import NotFound, Unprocessable
from api.state import Services
from api.v1 import runs, workflow_defs
from api.v1.workflow_schemas import ScheduleCreate, SchedulePatch, ScheduleView
from engine.services.schedules import ScheduleNotFound, ScheduleService
from store.db import as_utc, utcnow
from store.workflows import WorkflowSchedule

NAMED = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"{field}: {message}",
        code="INVALID_SCHEDULE",
        details={"errors": [{"field": field, "message": message}]},
    )


def check_cron(cron: str) -> str:
    """The expression's shape; Temporal checks its fields when the schedule is created or
    changed, and its refusal is answered as the same 422 (``_temporal``)."""
    cron = " ".join(cron.split())
    if cron in NAMED:
        return cron
    if len(cron.split(" ")) != 5:
        raise _invalid("cron", f"{cron!r} is not a five-field cron expression")
    return cron


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid("timezone", f"{name!r} is not an IANA time zone") from None
    return name


def not_found() -> NotFound:
    return NotFound("Schedule not found", code="SCHEDULE_NOT_FOUND")


async def view(s: Services, row: WorkflowSchedule) -> ScheduleView:
    try:
        status = await ScheduleService(s.jobs).status(row.id)
    except ScheduleNotFound:
        raise not_found() from None
    return ScheduleView(
        id=row.id,
        workflowId=row.workflow_id,
        cron=row.cron,
        timezone=row.timezone,
        input=row.input,
        overlapPolicy=status.overlap_policy,  # type: ignore[arg-type]
        paused=status.paused,
        note=row.note,
        nextRunTimes=status.next_run_times,
        recentExecutions=status.recent_executions,
        runningExecutions=status.running_executions,
        createdAt=as_utc(row.created_at),
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


async def _temporal(call: object) -> None:
    try:
        await call  # type: ignore[misc]
    except RPCError as exc:
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise _invalid("cron", f"Temporal refused the schedule: {exc.message}") from exc
        raise


async def create(s: Services, user_id: str, workflow_id: str, data: ScheduleCreate) -> ScheduleView:
    row, version = await workflow_defs.load(s.db, user_id, workflow_id)
    schedule = WorkflowSchedule(
        user_id=user_id,
        workflow_id=workflow_id,
        cron=check_cron(data.cron),
        timezone=check_timezone(data.timezone),
        overlap_policy=data.overlapPolicy,
        input=data.input,
        note=data.note,
    )
    run = runs.run_input(s, user_id, row, version, data.input, schedule_id=schedule.id)
    await runs.check_credentials(s, user_id, run.plan)
    async with s.db.session() as session:
        session.add(schedule)
        await session.commit()
    try:
        await _temporal(
            ScheduleService(s.jobs).create(
                schedule.id,
                run,
                cron=schedule.cron,
                timezone=schedule.timezone,
                overlap=schedule.overlap_policy,
                paused=data.paused,
                note=data.note,
            )
        )
    except BaseException:
        async with s.db.session() as session:
            fresh = await session.get(WorkflowSchedule, schedule.id)
            if fresh is not None:
                await session.delete(fresh)
                await session.commit()
        raise
    return await view(s, schedule)


async def for_workflow(s: Services, user_id: str, workflow_id: str) -> list[ScheduleView]:
    await workflow_defs.load(s.db, user_id, workflow_id)
    async with s.db.session() as session:
        rows = (
            await session.exec(
                select(WorkflowSchedule)
                .where(
                    WorkflowSchedule.workflow_id == workflow_id, WorkflowSchedule.user_id == user_id
                )
                .order_by(col(WorkflowSchedule.created_at))
            )
        ).all()
    return [await view(s, r) for r in rows]


async def owned(s: Services, user_id: str, schedule_id: str) -> WorkflowSchedule:
    async with s.db.session() as session:
        row = await session.get(WorkflowSchedule, schedule_id)
    if row is None or row.user_id != user_id:
        raise not_found()
    return row


async def patch(s: Services, user_id: str, schedule_id: str, data: SchedulePatch) -> ScheduleView:
    row = await owned(s, user_id, schedule_id)
    given = data.model_fields_set
    cron = check_cron(data.cron) if data.cron is not None else None
    timezone = check_timezone(data.timezone) if data.timezone is not None else None
    run = None
    if data.input is not None:
        workflow, version = await workflow_defs.load(s.db, user_id, row.workflow_id)
        run = runs.run_input(s, user_id, workflow, version, data.input, schedule_id=row.id)
    timing = cron is not None or timezone is not None
    try:
        await _temporal(
            ScheduleService(s.jobs).update(
                schedule_id,
                run=run,
                cron=(cron or row.cron) if timing else None,
                timezone=(timezone or row.timezone) if timing else None,
                overlap=data.overlapPolicy,
                paused=data.paused,
            )
        )
    except ScheduleNotFound:
        raise not_found() from None
    async with s.db.session() as session:
        fresh = await session.get(WorkflowSchedule, schedule_id)
        assert fresh is not None
        fresh.cron = cron or fresh.cron
        fresh.timezone = timezone or fresh.timezone
        fresh.overlap_policy = data.overlapPolicy or fresh.overlap_policy
        if data.input is not None:
            fresh.input = data.input
        if "note" in given:
            fresh.note = data.note
        fresh.updated_at = utcnow()
        session.add(fresh)
        await session.commit()
    return await view(s, fresh)


async def trigger(s: Services, user_id: str, schedule_id: str) -> None:
    await owned(s, user_id, schedule_id)
    try:
        await ScheduleService(s.jobs).trigger(schedule_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise not_found() from exc
        raise


async def remove(s: Services, user_id: str, schedule_id: str) -> None:
    row = await owned(s, user_id, schedule_id)
    await ScheduleService(s.jobs).delete(row.id)
    async with s.db.session() as session:
        fresh = await session.get(WorkflowSchedule, schedule_id)
        if fresh is not None:
            await session.delete(fresh)
            await session.commit()


async def _rows(s: Services, user_id: str, workflow_id: str) -> list[WorkflowSchedule]:
    async with s.db.session() as session:
        return list(
            (
                await session.exec(
                    select(WorkflowSchedule).where(
                        WorkflowSchedule.workflow_id == workflow_id,
                        WorkflowSchedule.user_id == user_id,
                    )
                )
            ).all()
        )


async def remove_all(s: Services, user_id: str, workflow_id: str) -> None:
    for row in await _rows(s, user_id, workflow_id):
        await remove(s, user_id, row.id)


async def refresh_all(s: Services, user_id: str, workflow_id: str) -> None:
    """Point every schedule of a workflow at its current version."""
    rows = await _rows(s, user_id, workflow_id)
    if not rows:
        return
    workflow, version = await workflow_defs.load(s.db, user_id, workflow_id)
    svc = ScheduleService(s.jobs)
    for row in rows:
        run = runs.run_input(s, user_id, workflow, version, row.input, schedule_id=row.id)
        try:
            await svc.update(row.id, run=run)
        except ScheduleNotFound:
            continue
