"""Request and response models for leads, lead imports and enrichment batches.

The shapes follow seed 001's ``Lead`` as the ``buena-sdk`` client reads it:
snake_case fields, the object itself as the body of create/get/update, and the
list as ``{data, total, limit, offset}`` plus ``leads`` (the same list).
``job_title`` is also accepted and returned as ``title``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.models.fairness import RequestedPriority
from engine.services.catalog import ENRICHABLE_FIELDS
from store.db import as_utc
from store.leads import LEAD_STATUSES, Lead

LeadStatus = Literal[
    "new", "contacted", "responded", "converted", "unqualified", "active", "inactive"
]
assert set(LeadStatus.__args__) == set(LEAD_STATUSES)  # type: ignore[attr-defined]
EnrichableField = Literal[
    "first_name", "last_name", "company", "job_title", "phone", "linkedin_url", "location"
]
assert set(EnrichableField.__args__) == set(ENRICHABLE_FIELDS)  # type: ignore[attr-defined]


class LeadFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    company: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    job_title: str | None = None
    title: str | None = Field(default=None, description="Alias of job_title")
    location: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class CreateLead(LeadFields):
    """``CreateLeadRequest``: first_name, last_name and email are required."""

    # Required, but null is read as missing (a 400 like an absent field).
    first_name: str | None
    last_name: str | None
    email: str | None
    status: LeadStatus | None = None


class UpdateLead(LeadFields):
    """``UpdateLeadRequest``: every field optional; tags are replaced, custom_fields merged
    (PATCH) or replaced (PUT)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    status: LeadStatus | None = None


class LeadOut(BaseModel):
    id: str
    first_name: str
    last_name: str
    email: str
    company: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    job_title: str | None = None
    title: str | None = None
    location: str | None = None
    notes: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    status: str
    created_at: datetime
    updated_at: datetime
    enrichment: dict[str, Any] | None = None
    enriched_at: datetime | None = None


def lead_public(lead: Lead) -> dict[str, Any]:
    out = LeadOut(
        id=lead.id,
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        company=lead.company,
        phone=lead.phone,
        linkedin_url=lead.linkedin_url,
        job_title=lead.job_title,
        title=lead.job_title,
        location=lead.location,
        notes=lead.notes,
        tags=list(lead.tags or []),
        custom_fields=dict(lead.custom_fields or {}),
        status=lead.status,
        created_at=as_utc(lead.created_at) or lead.created_at,
        updated_at=as_utc(lead.updated_at) or lead.updated_at,
        enrichment=lead.enrichment,
        enriched_at=as_utc(lead.enriched_at),
    )
    return out.model_dump(mode="json")


class LeadListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, description="At most 100 are returned")
    offset: int = Field(default=0, ge=0)
    sort: Literal["created_at", "updated_at", "first_name", "last_name"] = "created_at"
    order: Literal["asc", "desc"] = "desc"
    search: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    status: LeadStatus | None = None
    tag: str | None = Field(default=None, max_length=100)


class LeadList(BaseModel):
    data: list[LeadOut]
    leads: list[LeadOut]
    total: int
    limit: int
    offset: int


class DeleteResult(BaseModel):
    success: bool
    message: str
    deleted_id: str


class JobAccepted(BaseModel):
    jobId: str
    status: str
    totalRows: int | None = None


class Accepted(BaseModel):
    success: bool
    data: JobAccepted


class ImportJson(BaseModel):
    """``POST /api/v2/leads/import`` as JSON (or send a bare array, or text/csv)."""

    leads: list[Any] = Field(description="Lead objects; a non-object row fails on its own")
    onDuplicate: Literal["error", "skip", "update"] = "error"


class ImportRowError(BaseModel):
    row: int
    status: str
    field: str | None = None
    code: str | None = None
    message: str | None = None
    leadId: str | None = None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    status: Literal["pending", "enriched", "failed", "cancelled"] | None = None


class Pagination(BaseModel):
    limit: int
    offset: int
    total: int


class ImportStatus(BaseModel):
    jobId: str
    status: str
    progress: int
    message: str
    createdAt: str | None = None
    completedAt: str | None = None
    totalRows: int
    imported: int
    updated: int
    skipped: int
    failed: int
    pending: int
    errors: list[ImportRowError]
    pagination: Pagination


class ImportStatusResponse(BaseModel):
    success: bool
    data: ImportStatus


class BatchFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    status: LeadStatus | None = None
    tag: str | None = Field(default=None, max_length=100)


class CreateBatch(BaseModel):
    """Which leads (``leadIds`` or ``filter``; ``filter: {}`` is every lead), which providers
    (default ``["local"]``), which fields may be written (default all), and whether to
    overwrite values already set. Provider keys: ``credentials`` (provider → credential
    id) or ``apiKeys`` (provider → key, sealed before the job starts)."""

    model_config = ConfigDict(extra="forbid")

    leadIds: list[str] | None = Field(default=None, max_length=50_000)
    filter: BatchFilter | None = None
    providers: list[str] | None = Field(default=None, max_length=5)
    fields: list[EnrichableField] | None = None
    overwrite: bool = False
    credentials: dict[str, str] | None = None
    apiKeys: dict[str, str] | None = None
    # Among the caller's own work: high runs before normal, low after (docs/fairness.md).
    priority: RequestedPriority | None = None


class BatchItem(BaseModel):
    leadId: str
    status: str
    fieldsUpdated: list[str] = Field(default_factory=list)
    providers: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    updatedAt: str | None = None


class BatchStatus(BaseModel):
    jobId: str
    type: str = "data_enrichment"
    status: str
    progress: int
    message: str
    createdAt: str | None = None
    completedAt: str | None = None
    providers: list[str]
    fields: list[str]
    overwrite: bool
    batchSize: int
    processed: int
    enriched: int
    failed: int
    cancelled: int
    pending: int
    results: list[BatchItem]
    pagination: Pagination


class BatchStatusResponse(BaseModel):
    success: bool
    data: BatchStatus
