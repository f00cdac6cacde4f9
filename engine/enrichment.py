"""EnrichmentBatchWorkflow: a ``data_enrichment`` job enriching a batch of leads in chunks.

The workflow carries only the batch id and a cursor. Each activity enriches one
range of positions (hundreds of leads), so a 10,000-lead batch is a few dozen
activities, not 10,000. Progress (``batchSize``, ``processed``) comes from the
database after every chunk, so it stays exact across retries; long batches
continue as new before their history grows large. Cancelling stops at the next
heartbeat: leads already written keep their data, the rest are left untouched
and their items marked cancelled.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

from engine.events import EventInput, emit_events
from engine.jobs import JobTracker, JobWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.enrichment import (
        BatchCounts,
        EnrichChunkInput,
        EnrichmentActivities,
        FinishBatchInput,
        PrepareBatchInput,
    )
    from connectors.errors import PERMANENT_ERROR_TYPES

RUNNING_MESSAGE = "Processing lead enrichment batch"


class EnrichmentBatchInput(BaseModel):
    batch_id: str
    user_id: str
    chunk_size: int = 500
    heartbeat_timeout_seconds: float = 10.0
    chunk_timeout_seconds: float = 1800.0
    # Continue as new after this many chunks (Temporal may suggest it sooner).
    max_chunks_per_run: int = 100
    # Carried across continue-as-new:
    prepared: bool = False
    total: int = 0
    cursor: int = 0
    created_at: datetime | None = None


class EnrichmentBatchOutput(BaseModel):
    batch_id: str
    batchSize: int
    processed: int
    enriched: int
    failed: int
    cancelled: int = 0


def _retry(max_attempts: int = 10) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
        maximum_attempts=max_attempts,
        non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
    )


def _failure(err: BaseException) -> tuple[str, str | None]:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type
    return str(cause or err), type(cause or err).__name__


@workflow.defn(name="EnrichmentBatchWorkflow")
class EnrichmentBatchWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._job = JobTracker(RUNNING_MESSAGE)

    def _progress(self, c: BatchCounts, total: int) -> None:
        self._job.state.metadata.update(
            batchSize=total, processed=c.processed, enriched=c.enriched, failed=c.failed
        )
        self._job.update(progress=int(100 * c.processed / total) if total else 100)

    @workflow.run
    async def run(self, data: EnrichmentBatchInput) -> EnrichmentBatchOutput:
        self._job.state.created_at = data.created_at
        self._job.state.metadata.update(batchId=data.batch_id, batchSize=data.total)
        self._job.begin(RUNNING_MESSAGE, status="running")
        total, cursor = data.total, data.cursor
        try:
            if not data.prepared:
                prepared = await workflow.execute_activity_method(
                    EnrichmentActivities.prepare_enrichment_batch,
                    PrepareBatchInput(batch_id=data.batch_id, user_id=data.user_id),
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                    retry_policy=_retry(),
                )
                total = prepared.total
                self._job.update(metadata={"batchSize": total, "processed": 0})
            chunks = 0
            while cursor < total:
                done = await workflow.execute_activity_method(
                    EnrichmentActivities.enrich_leads_chunk,
                    EnrichChunkInput(
                        batch_id=data.batch_id, user_id=data.user_id, start=cursor,
                        limit=data.chunk_size,
                    ),
                    start_to_close_timeout=timedelta(seconds=data.chunk_timeout_seconds),
                    heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                    retry_policy=_retry(),
                    # A cancelled job reports only after the chunk has stopped writing.
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                cursor += data.chunk_size
                chunks += 1
                self._progress(done, total)
                if cursor < total and (
                    chunks >= data.max_chunks_per_run
                    or workflow.info().is_continue_as_new_suggested()
                ):
                    workflow.continue_as_new(
                        data.model_copy(update={
                            "prepared": True, "total": total, "cursor": cursor,
                            "created_at": self._job.state.created_at,
                        })
                    )
        except (asyncio.CancelledError, ActivityError) as err:
            if is_cancelled_exception(err):
                final = await self._finish(data, "cancelled", None)
                self._job.state.metadata.update(cancelled=final.cancelled)
                self._progress(final, total)
                self._job.cancel(
                    f"Enrichment cancelled after {final.processed} of {total} leads"
                )
                raise
            message, error_type = _failure(err)
            final = await self._finish(data, "failed", message)
            self._progress(final, total)
            self._job.fail(f"Enrichment failed: {message}", error_type)
            await self._emit(data, "enrichment.failed", final,
                             {"error": message, "errorType": error_type})
            raise ApplicationError(message, type=error_type, non_retryable=True) from err
        final = await self._finish(data, "completed", None)
        self._progress(final, total)
        output = EnrichmentBatchOutput(
            batch_id=data.batch_id, batchSize=final.total, processed=final.processed,
            enriched=final.enriched, failed=final.failed,
        )
        self._job.complete(
            f"Enriched {final.enriched} of {final.total} leads"
            + (f" ({final.failed} failed)" if final.failed else ""),
            output.model_dump(),
        )
        await self._emit(data, "enrichment.completed", final, {})
        return output

    async def _emit(
        self, data: EnrichmentBatchInput, name: str, c: BatchCounts, extra: dict[str, object]
    ) -> None:
        body = {"jobId": workflow.info().workflow_id, "batchSize": c.total,
                "processed": c.processed, "enriched": c.enriched, "failed": c.failed, **extra}
        await emit_events(data.user_id, [EventInput(name=name, data=body)])

    async def _finish(
        self, data: EnrichmentBatchInput, outcome: str, error: str | None
    ) -> BatchCounts:
        return await workflow.execute_activity_method(
            EnrichmentActivities.finish_enrichment_batch,
            FinishBatchInput(
                batch_id=data.batch_id, user_id=data.user_id,
                outcome=outcome,  # type: ignore[arg-type]
                error=error,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_retry(),
        )
