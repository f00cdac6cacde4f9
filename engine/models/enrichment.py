"""Enrichment batches: a ``data_enrichment`` job enriching a batch of leads in chunks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

ENRICHMENT_WORKFLOW = "EnrichmentBatchWorkflow"
PREPARE_BATCH = "prepare_enrichment_batch"
ENRICH_CHUNK = "enrich_leads_chunk"
FINISH_BATCH = "finish_enrichment_batch"


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


class PrepareBatchInput(BaseModel):
    batch_id: str
    user_id: str


class PrepareBatchOutput(BaseModel):
    total: int


class EnrichChunkInput(BaseModel):
    batch_id: str
    user_id: str
    start: int
    limit: int


class BatchCounts(BaseModel):
    """Authoritative per-status counts from the database (exact across retries)."""

    total: int = 0
    pending: int = 0
    enriched: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def processed(self) -> int:
        """Leads the batch has dealt with (enriched or failed; cancelled ones were not)."""
        return self.enriched + self.failed


class FinishBatchInput(BaseModel):
    batch_id: str
    user_id: str
    outcome: Literal["completed", "cancelled", "failed"]
    error: str | None = None
