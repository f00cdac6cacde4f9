"""Schedules of workflows for the API; Temporal Schedules run them (``ScheduleService``).

Cron is checked here (five fields, or ``@hourly``-style names) and the time
zone must be an IANA name; Temporal has the last word and its refusal is a 422
too. The row in ``workflow_schedules`` keeps what the user wrote; Temporal keeps
the pause state, the next run times and the runs.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.service import RPCError, RPCStatusCode

from engine.services import run_plans
from engine.services.jobs import JobService
from engine.services.schedules import ScheduleNotFound, ScheduleService, ScheduleStatus
from engine.services.sealing import seal_secret_inputs
from settings import Settings
from store import workflow_repo
from store.db import Database
from store.errors import InvalidError
from store.vault import Vault
from store.workflows import WorkflowSchedule

NAMED = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


class InvalidSchedule(InvalidError):
    code = "INVALID_SCHEDULE"


def _invalid(field: str, message: str) -> InvalidSchedule:
    return InvalidSchedule(
        f"{field}: {message}", details={"errors": [{"field": field, "message": message}]}
    )


def _missing() -> ScheduleNotFound:
    return ScheduleNotFound("Schedule not found")


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


async def _temporal(call: Awaitable[None]) -> None:
    try:
        await call
    except RPCError as exc:
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise _invalid("cron", f"Temporal refused the schedule: {exc.message}") from exc
        raise


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as asked for (its row) and as Temporal runs it (its status)."""

    row: WorkflowSchedule
    status: ScheduleStatus


@dataclass(frozen=True)
class ScheduleSpec:
    """A new schedule, as sent."""

    cron: str
    timezone: str
    input: dict[str, Any]
    overlap: str
    paused: bool
    note: str | None


@dataclass(frozen=True)
class ScheduleChange:
    """What a change sends (None: keep); ``set_note`` says whether ``note`` was sent."""

    cron: str | None = None
    timezone: str | None = None
    input: dict[str, Any] | None = None
    overlap: str | None = None
    paused: bool | None = None
    note: str | None = None
    set_note: bool = False


class WorkflowSchedules:
    """Every call names the caller; another user's schedule or workflow is a 404."""

    def __init__(self, settings: Settings, db: Database, vault: Vault, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.vault = vault
        self.temporal = ScheduleService(jobs)
        self.fair = jobs.fair  # the schedules quotas (count, smallest interval)

    async def info(self, row: WorkflowSchedule) -> ScheduleInfo:
        return ScheduleInfo(row, await self.temporal.status(row.id))

    async def owned(self, user_id: str, schedule_id: str) -> WorkflowSchedule:
        row = await workflow_repo.get_schedule(self.db, user_id, schedule_id)
        if row is None:
            raise _missing()
        return row

    async def get(self, user_id: str, schedule_id: str) -> ScheduleInfo:
        return await self.info(await self.owned(user_id, schedule_id))

    async def create(self, user_id: str, workflow_id: str, spec: ScheduleSpec) -> ScheduleInfo:
        _workflow, version = await workflow_repo.load(self.db, user_id, workflow_id)
        row = WorkflowSchedule(
            user_id=user_id,
            workflow_id=workflow_id,
            cron=check_cron(spec.cron),
            timezone=check_timezone(spec.timezone),
            overlap_policy=spec.overlap,
            input=spec.input,
            note=spec.note,
        )
        if self.fair is not None:
            await self.fair.check_schedule(user_id, row.cron, adding=True)
        run = run_plans.version_run_input(
            self.settings, user_id, version, spec.input, schedule_id=row.id
        )
        await run_plans.check_credentials(self.db, user_id, run.plan)
        await seal_secret_inputs(self.db, self.vault, run)
        row.input, row.secret_input_id = run.input, run.secret_input_id
        await workflow_repo.insert_schedule(self.db, row)
        try:
            await _temporal(
                self.temporal.create(
                    row.id,
                    run,
                    cron=row.cron,
                    timezone=row.timezone,
                    overlap=row.overlap_policy,
                    paused=spec.paused,
                    note=spec.note,
                )
            )
        except BaseException:
            await workflow_repo.delete_schedule(self.db, row.id)
            raise
        return await self.info(row)

    async def of_workflow(self, user_id: str, workflow_id: str) -> list[ScheduleInfo]:
        await workflow_repo.load(self.db, user_id, workflow_id)
        rows = await workflow_repo.schedules_of(self.db, user_id, workflow_id)
        return [await self.info(r) for r in rows]

    async def change(self, user_id: str, schedule_id: str, change: ScheduleChange) -> ScheduleInfo:
        row = await self.owned(user_id, schedule_id)
        cron = check_cron(change.cron) if change.cron is not None else None
        timezone = check_timezone(change.timezone) if change.timezone is not None else None
        if cron is not None and self.fair is not None:
            await self.fair.check_schedule(user_id, cron, adding=False)
        run = None
        if change.input is not None:
            _workflow, version = await workflow_repo.load(self.db, user_id, row.workflow_id)
            run = run_plans.version_run_input(
                self.settings, user_id, version, change.input, schedule_id=row.id
            )
            await seal_secret_inputs(self.db, self.vault, run)
        timing = cron is not None or timezone is not None
        await _temporal(
            self.temporal.update(
                schedule_id,
                run=run,
                cron=(cron or row.cron) if timing else None,
                timezone=(timezone or row.timezone) if timing else None,
                overlap=change.overlap,
                paused=change.paused,
            )
        )
        columns: dict[str, Any] = {}
        if cron is not None:
            columns["cron"] = cron
        if timezone is not None:
            columns["timezone"] = timezone
        if change.overlap is not None:
            columns["overlap_policy"] = change.overlap
        if run is not None:
            columns["input"], columns["secret_input_id"] = run.input, run.secret_input_id
        if change.set_note:
            columns["note"] = change.note
        fresh = await workflow_repo.update_schedule(self.db, schedule_id, columns)
        if fresh is None:
            raise _missing()
        return await self.info(fresh)

    async def trigger(self, user_id: str, schedule_id: str) -> None:
        """One extra run now, subject to the overlap policy."""
        await self.owned(user_id, schedule_id)
        await self.temporal.trigger(schedule_id)

    async def remove(self, user_id: str, schedule_id: str) -> None:
        row = await self.owned(user_id, schedule_id)
        await self.temporal.delete(row.id)
        await workflow_repo.delete_schedule(self.db, row.id)

    async def remove_all(self, user_id: str, workflow_id: str) -> None:
        """Delete every schedule of a workflow (before the workflow goes)."""
        for row in await workflow_repo.schedules_of(self.db, user_id, workflow_id):
            await self.remove(user_id, row.id)

    async def refresh_all(self, user_id: str, workflow_id: str) -> None:
        """Point every schedule of a workflow at its current version."""
        rows = await workflow_repo.schedules_of(self.db, user_id, workflow_id)
        if not rows:
            return
        _workflow, version = await workflow_repo.load(self.db, user_id, workflow_id)
        for row in rows:
            run = run_plans.version_run_input(
                self.settings, user_id, version, row.input, schedule_id=row.id
            )
            await seal_secret_inputs(self.db, self.vault, run, sealed_id=row.secret_input_id)
            if run.secret_input_id != row.secret_input_id:
                await workflow_repo.update_schedule(
                    self.db, row.id, {"input": run.input, "secret_input_id": run.secret_input_id}
                )
            try:
                await self.temporal.update(row.id, run=run)
            except ScheduleNotFound:
                continue
