"""LeadImportWorkflow: a ``lead_import`` job importing staged CSV/JSON rows in chunks.

The workflow carries the import id and a row cursor; the rows live in the
database. Bad rows are recorded with their error and never stop the good ones;
the job completes with per-status counts, and the rows that failed are listed
by ``GET /api/v2/leads/import/{jobId}``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from connectors.errors import PERMANENT_ERROR_TYPES
    from engine.models.leads import (
        IMPORT_LEAD_ROWS,
        IMPORT_WORKFLOW,
        ImportChunkInput,
        ImportCounts,
        LeadImportInput,
        LeadImportOutput,
    )
    from engine.workflows.jobs import JobTracker, JobWorkflow

RUNNING_MESSAGE = "Importing leads"


@workflow.defn(name=IMPORT_WORKFLOW)
class LeadImportWorkflow(JobWorkflow):
    def __init__(self) -> None:
        self._job = JobTracker(RUNNING_MESSAGE)

    @workflow.run
    async def run(self, data: LeadImportInput) -> LeadImportOutput:
        self._job.state.created_at = data.created_at
        self._job.state.metadata.update(importId=data.import_id, totalRows=data.total)
        self._job.begin(RUNNING_MESSAGE, status="running")
        cursor, chunks = data.cursor, 0
        counts = ImportCounts(total=data.total, pending=data.total)
        try:
            while cursor <= data.total:
                counts = await workflow.execute_activity(
                    IMPORT_LEAD_ROWS,
                    ImportChunkInput(
                        import_id=data.import_id,
                        user_id=data.user_id,
                        start=cursor,
                        limit=data.chunk_size,
                    ),
                    result_type=ImportCounts,
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(seconds=data.heartbeat_timeout_seconds),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=1),
                        maximum_interval=timedelta(seconds=30),
                        maximum_attempts=10,
                        non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
                    ),
                )
                cursor += data.chunk_size
                chunks += 1
                self._job.state.metadata.update(
                    processed=counts.processed,
                    imported=counts.imported,
                    updated=counts.updated,
                    skipped=counts.skipped,
                    failed=counts.failed,
                )
                self._job.update(
                    progress=int(100 * counts.processed / data.total) if data.total else 100
                )
                if cursor <= data.total and (
                    chunks >= data.max_chunks_per_run
                    or workflow.info().is_continue_as_new_suggested()
                ):
                    workflow.continue_as_new(
                        data.model_copy(
                            update={"cursor": cursor, "created_at": self._job.state.created_at}
                        )
                    )
        except (asyncio.CancelledError, ActivityError) as err:
            await self._job.settle(
                err,
                cancelled=f"Import cancelled after {counts.processed} rows",
                failed="Import failed",
            )
        output = LeadImportOutput(
            import_id=data.import_id,
            totalRows=data.total,
            imported=counts.imported,
            updated=counts.updated,
            skipped=counts.skipped,
            failed=counts.failed,
        )
        done = counts.imported + counts.updated
        self._job.complete(
            f"Imported {done} of {data.total} rows"
            + (f" ({counts.failed} failed)" if counts.failed else "")
            + (f" ({counts.skipped} skipped)" if counts.skipped else ""),
            output.model_dump(),
        )
        return output
