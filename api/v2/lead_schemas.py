"""Request and response models for leads, lead imports and enrichment batches.

The shapes follow the leads and keys API's ``Lead`` as the ``buena-sdk`` client reads it:
snake_case fields, the object itself as the body of create/get/update, and the
list as ``{data, total, limit, offset}`` plus ``leads`` (the same list).
``job_title`` is also accepted and returned as ``title``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from engine.models.fairness import RequestedPriority
from engine.services.catalog import ENRICHABLE_FIELDS
from engine.services.catalog import enrichment_providers as ENRICHMENT_PROVIDERS
from store.db import as_utc
from store.lead_fields import (
    MAX_CUSTOM_FIELDS_BYTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    REQUIRED,
    TEXT_FIELDS,
)
from store.leads import LEAD_STATUSES, Lead

LeadStatus = Literal[
    "new", "contacted", "responded", "converted", "unqualified", "active", "inactive"
]
assert set(LeadStatus.__args__) == set(LEAD_STATUSES)  # type: ignore[attr-defined]
EnrichableField = Literal[
    "first_name", "last_name", "company", "job_title", "phone", "linkedin_url", "location"
]
assert set(EnrichableField.__args__) == set(ENRICHABLE_FIELDS)  # type: ignore[attr-defined]


# The published schemas state what ``store.lead_fields.clean_fields`` enforces (it validates
# after pydantic, with its own error codes, so these annotations document and do not check).
def _text(field: str, *, nullable: bool = True) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", "maxLength": TEXT_FIELDS[field]}
    if not nullable:
        # Blank counts as missing: at least one non-space character.
        schema.update(minLength=1, pattern=NOT_BLANK)
    return WithJsonSchema({"anyOf": [schema, {"type": "null"}]} if nullable else schema)


# At least one character Python's str.strip() keeps (it also strips \x1c-\x1f and \x85).
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
NAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK}
EMAIL_SCHEMA = {
    "type": "string",
    "format": "email",
    "maxLength": 320,
    "description": "A syntactically valid address (unique per user, case-insensitively).",
}
PHONE_SCHEMA = {
    "anyOf": [
        {
            "type": "string",
            "format": "phone",
            "maxLength": TEXT_FIELDS["phone"],
            "description": "A number libphonenumber reads as possible: international "
            "(+1-555-123-4567) or national in the server's default region.",
        },
        {"type": "null"},
    ]
}
TAGS_SCHEMA = {
    "anyOf": [
        {
            "type": "array",
            "items": {"type": "string", "maxLength": MAX_TAG_LENGTH},
            "maxItems": MAX_TAGS,
            "description": "Replaces the lead's tags; blank tags and case-insensitive "
            "duplicates are dropped.",
        },
        {"type": "null"},
    ]
}
CUSTOM_FIELDS_SCHEMA = {
    "anyOf": [{"type": "object", "additionalProperties": True}, {"type": "null"}],
    "x-max-json-bytes": MAX_CUSTOM_FIELDS_BYTES,
    "description": f"Any JSON object, at most {MAX_CUSTOM_FIELDS_BYTES} bytes as JSON.",
}


class LeadFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    company: Annotated[str | None, _text("company")] = None
    phone: Annotated[str | None, WithJsonSchema(PHONE_SCHEMA)] = None
    linkedin_url: Annotated[str | None, _text("linkedin_url")] = None
    job_title: Annotated[str | None, _text("job_title")] = None
    title: Annotated[str | None, _text("job_title")] = Field(
        default=None, description="Alias of job_title"
    )
    location: Annotated[str | None, _text("location")] = None
    notes: Annotated[str | None, _text("notes")] = None
    tags: Annotated[list[str] | None, WithJsonSchema(TAGS_SCHEMA)] = None
    custom_fields: Annotated[dict[str, Any] | None, WithJsonSchema(CUSTOM_FIELDS_SCHEMA)] = None


class CreateLead(LeadFields):
    """``CreateLeadRequest``: first_name, last_name and email are required."""

    model_config = ConfigDict(title="CreateLeadRequest")

    # Required, but null is read as missing (a 400 like an absent field).
    first_name: Annotated[str | None, WithJsonSchema(NAME_SCHEMA)]
    last_name: Annotated[str | None, WithJsonSchema(NAME_SCHEMA)]
    email: Annotated[str | None, WithJsonSchema(EMAIL_SCHEMA)]
    status: LeadStatus | None = None


def _some_field(schema: dict[str, Any]) -> None:
    """An update must name at least one lead field: unknown keys are ignored, so an update
    of only unknown keys is refused (400); the document asks for lead fields only."""
    schema.update(minProperties=1, additionalProperties=False)


class UpdateLead(LeadFields):
    """``UpdateLeadRequest``: every field optional (at least one given); tags are replaced,
    custom_fields merged (PUT and PATCH alike)."""

    model_config = ConfigDict(title="UpdateLeadRequest", json_schema_extra=_some_field)

    # Optional, but never null: these cannot be cleared.
    first_name: Annotated[str | None, WithJsonSchema(NAME_SCHEMA)] = None
    last_name: Annotated[str | None, WithJsonSchema(NAME_SCHEMA)] = None
    email: Annotated[str | None, WithJsonSchema(EMAIL_SCHEMA)] = None
    status: Annotated[LeadStatus | None, WithJsonSchema({"enum": list(LEAD_STATUSES)})] = None


assert set(REQUIRED) <= set(CreateLead.model_fields)


class LeadOut(BaseModel):
    model_config = ConfigDict(title="Lead")

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
    model_config = ConfigDict(title="ListLeads200Response")

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

    leads: list[Any] = Field(
        description="Lead objects; a non-object row fails on its own",
        json_schema_extra={"minItems": 1, "x-max-items": "the server's leads_import_max_rows"},
    )
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


def _batch_schema(schema: dict[str, Any]) -> None:
    """Exactly one of leadIds (not empty) or filter; providers from the catalog."""
    schema["oneOf"] = [
        {"required": ["leadIds"], "properties": {"leadIds": {"type": "array", "minItems": 1}}},
        {"required": ["filter"], "properties": {"filter": {"type": "object"}}},
    ]
    providers = schema["properties"]["providers"]
    providers["anyOf"][0]["items"] = {"enum": sorted(ENRICHMENT_PROVIDERS())}
    providers["anyOf"][0]["minItems"] = 1
    schema["x-provider-keys"] = (
        "a provider that needs a key needs credentials.<provider> or apiKeys.<provider> "
        "unless the operator configured one"
    )


class CreateBatch(BaseModel):
    """Which leads (``leadIds`` or ``filter``; ``filter: {}`` is every lead), which providers
    (default ``["local"]``), which fields may be written (default all), and whether to
    overwrite values already set. Provider keys: ``credentials`` (provider → credential
    id) or ``apiKeys`` (provider → key, sealed before the job starts)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_batch_schema)

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
