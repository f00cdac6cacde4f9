"""Lead imports: a CSV or JSON upload imported in chunks as a ``lead_import`` job."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

IMPORT_WORKFLOW = "LeadImportWorkflow"
IMPORT_LEAD_ROWS = "import_lead_rows"


class LeadImportInput(BaseModel):
    import_id: str
    user_id: str
    total: int
    chunk_size: int = 1000
    heartbeat_timeout_seconds: float = 10.0
    max_chunks_per_run: int = 200
    cursor: int = 1  # next row number (rows are numbered from 1)
    created_at: datetime | None = None


class LeadImportOutput(BaseModel):
    import_id: str
    totalRows: int
    imported: int
    updated: int
    skipped: int
    failed: int


class ImportChunkInput(BaseModel):
    import_id: str
    user_id: str
    start: int
    limit: int


class ImportCounts(BaseModel):
    """Per-status row counts from the database (exact across retries)."""

    total: int = 0
    pending: int = 0
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def processed(self) -> int:
        return self.total - self.pending
