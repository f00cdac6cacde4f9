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
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.enrichment import (
        ENRICH_CHUNK,
        ENRICHMENT_WORKFLOW,
        FINISH_BATCH,
        PREPARE_BATCH,
        BatchCounts,
        EnrichChunkInput,
        EnrichmentBatchInput,
        EnrichmentBatchOutput,
        FinishBatchInput,
        PrepareBatchInput,
        PrepareBatchOutput,
    )
    from engine.models.events import EventInput
    from engine.workflows.events import emit_events
    from engine.workflows.jobs import JobTracker, JobWorkflow

RUNNING_MESSAGE = "Processing lead enrichment batch"


def _retry(max_attempts: int = 10) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
        maximum_attempts=max_attempts,
        non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
    )


@workflow.defn(name=ENRICHMENT_WORKFLOW)
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
                prepared = await workflow.execute_activity(
                    PREPARE_BATCH,
                    PrepareBatchInput(batch_id=data.batch_id, user_id=data.user_id),
                    result_type=PrepareBatchOutput,
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                    retry_policy=_retry(),
                )
                total = prepared.total
                self._job.update(metadata={"batchSize": total, "processed": 0})
            chunks = 0
            while cursor < total:
                done = await workflow.execute_activity(
                    ENRICH_CHUNK,
                    EnrichChunkInput(
                        batch_id=data.batch_id,
                        user_id=data.user_id,
                        start=cursor,
                        limit=data.chunk_size,
                    ),
                    result_type=BatchCounts,
                    start_to_close_timeout=timedelta(seconds=data.chunk_timeout_seconds),
                    heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                    retry_policy=_retry(),
                    # A cancelled job reports only after the chunk has stopped writing.
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                    summary=f"leads {cursor + 1}-{min(total, cursor + data.chunk_size)} of {total}",
                )
                cursor += data.chunk_size
                chunks += 1
                self._progress(done, total)
                if cursor < total and (
                    chunks >= data.max_chunks_per_run
                    or workflow.info().is_continue_as_new_suggested()
                ):
                    workflow.continue_as_new(
                        data.model_copy(
                            update={
                                "prepared": True,
                                "total": total,
                                "cursor": cursor,
                                "created_at": self._job.state.created_at,
                            }
                        )
                    )
        except (asyncio.CancelledError, ActivityError) as err:

            async def cancelled() -> str:
                final = await self._finish(data, "cancelled", None)
                self._job.state.metadata.update(cancelled=final.cancelled)
                self._progress(final, total)
                return f"Enrichment cancelled after {final.processed} of {total} leads"

            closed = BatchCounts()

            async def before_fail(message: str) -> None:
                nonlocal closed
                closed = await self._finish(data, "failed", message)
                self._progress(closed, total)

            async def announce(message: str, error_type: str) -> None:
                await self._emit(
                    data, "enrichment.failed", closed, {"error": message, "errorType": error_type}
                )

            await self._job.settle(
                err,
                cancelled=cancelled,
                failed="Enrichment failed",
                before_fail=before_fail,
                announce=announce,
            )
        final = await self._finish(data, "completed", None)
        self._progress(final, total)
        output = EnrichmentBatchOutput(
            batch_id=data.batch_id,
            batchSize=final.total,
            processed=final.processed,
            enriched=final.enriched,
            failed=final.failed,
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
        body = {
            "jobId": workflow.info().workflow_id,
            "batchSize": c.total,
            "processed": c.processed,
            "enriched": c.enriched,
            "failed": c.failed,
            **extra,
        }
        await emit_events(data.user_id, [EventInput(name=name, data=body)])

    async def _finish(
        self, data: EnrichmentBatchInput, outcome: str, error: str | None
    ) -> BatchCounts:
        counts: BatchCounts = await workflow.execute_activity(
            FINISH_BATCH,
            FinishBatchInput(
                batch_id=data.batch_id,
                user_id=data.user_id,
                outcome=outcome,  # type: ignore[arg-type]
                error=error,
            ),
            result_type=BatchCounts,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_retry(),
        )
        return counts
