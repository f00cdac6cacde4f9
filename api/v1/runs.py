"""Executions as the /api/v1 family shows them, and the service its handlers call."""

from __future__ import annotations

from starlette.requests import Request

from api.state import services
from api.v1.workflow_schemas import (
    ExecuteResponse,
    ExecutionList,
    ExecutionSummary,
    ExecutionView,
    Pagination,
)
from engine.models.runs import RunState
from engine.services.executions import ExecutionPage
from engine.services.runs import RunService, Started
from store.db import as_utc


def service(request: Request) -> RunService:
    s = services(request)
    return RunService(s.settings, s.db, s.vault, s.jobs)


def started(run: Started) -> ExecuteResponse:
    record = run.record
    return ExecuteResponse(
        executionId=record.id,
        status="pending",
        startedAt=as_utc(record.created_at),  # type: ignore[arg-type]
        workflowId=record.workflow_id,
        version=record.version,
        message=run.message,
    )


def view(state: RunState) -> ExecutionView:
    total = len(state.steps)
    finished = sum(1 for st in state.steps if st.status not in ("pending", "running"))
    progress = 100 if state.status == "completed" else (finished * 100 // total if total else 0)
    return ExecutionView(
        id=state.executionId,
        executionId=state.executionId,
        workflowId=state.workflowId,
        version=state.version,
        status=state.status,
        progress=progress,
        finishedSteps=finished,
        totalSteps=total,
        input=state.input,
        output=state.output,
        error=state.error,
        errorType=state.errorType,
        steps=state.steps,
        startedAt=state.startedAt,
        completedAt=state.completedAt,
        retryOf=state.retryOf,
        fromStep=state.fromStep,
        scheduleId=state.scheduleId,
    )


def listing(page: ExecutionPage, limit: int) -> ExecutionList:
    items = []
    for job in page.jobs:
        meta = job.metadata
        items.append(
            ExecutionSummary(
                id=job.id,
                executionId=job.id,
                workflowId=meta.get("workflowId"),
                version=meta.get("version"),
                status=job.status,  # type: ignore[arg-type]
                progress=job.progress,
                finishedSteps=meta.get("finishedSteps"),
                totalSteps=meta.get("totalSteps"),
                message=job.message,
                startedAt=job.createdAt,
                completedAt=job.completedAt,
            )
        )
    return ExecutionList(
        executions=items,
        pagination=Pagination(
            limit=limit,
            nextPageToken=page.next_page_token,
            hasMore=page.next_page_token is not None,
        ),
    )
