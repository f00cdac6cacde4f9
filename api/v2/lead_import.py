"""``POST /api/v2/leads/import`` (CSV or JSON) as a ``lead_import`` job, and its status.

The upload is parsed here and staged row by row in the database; the job
carries only the import id. Validation happens per row in the job, so a bad
row is reported (row number, field, code, message) and the good rows land.
CSV: ``Content-Type: text/csv``, a header row, columns named like the lead
fields (``first_name``, ``First Name``, ``email address``, ``title``…); other
columns become custom fields. JSON: an array of lead objects, or
``{"leads": [...], "onDuplicate": "error|skip|update"}``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.errors import BadRequest, NotFound
from api.spec import operation
from api.state import services
from api.v2.jobs import job_view
from api.v2.lead_schemas import (
    Accepted,
    ImportJson,
    ImportRowError,
    ImportStatusResponse,
    PageQuery,
)
from api.v2.leads import lead_user
from engine.models import queues, summaries
from engine.models.leads import LeadImportInput, LeadImportOutput
from store import import_repo
from store.import_repo import INVALID_ROW, ON_DUPLICATE
from store.leads import LeadImport

TAG = "Leads"
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")
ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname", "first", "given_name", "givenname"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name", "familyname"),
    "email": ("email", "email_address", "emailaddress", "e_mail", "mail"),
    "company": ("company", "company_name", "companyname", "organization", "organisation"),
    "phone": ("phone", "phone_number", "phonenumber", "mobile", "telephone", "tel"),
    "linkedin_url": (
        "linkedin_url",
        "linkedin",
        "linkedinurl",
        "linkedin_profile",
        "linkedin_profile_url",
    ),
    "job_title": ("job_title", "jobtitle", "title", "position"),
    "location": ("location", "city"),
    "notes": ("notes", "note", "comments", "comment"),
    "tags": ("tags", "tag", "labels"),
    "status": ("status", "lead_status"),
}
BY_ALIAS = {alias: field for field, names in ALIASES.items() for alias in names}
CUSTOM_PREFIXES = ("custom_fields.", "custom_fields_", "custom.", "custom_")


def header_key(header: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", header.strip())
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def map_headers(headers: list[str]) -> list[tuple[str, str | None]]:
    """(header, lead field or None for a custom field) per column."""
    return [(h, BY_ALIAS.get(header_key(h))) for h in headers]


def custom_name(header: str) -> str:
    stripped = header.strip()
    for prefix in CUSTOM_PREFIXES:
        if stripped.lower().startswith(prefix):
            return stripped[len(prefix) :] or stripped
    return stripped


def parse_csv(raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("CSV must be UTF-8 encoded", code="INVALID_CSV") from exc
    reader = csv.reader(io.StringIO(text))
    try:
        headers = next(reader)
    except StopIteration as exc:
        raise BadRequest("The CSV is empty", code="INVALID_CSV") from exc
    except csv.Error as exc:
        raise BadRequest(f"Invalid CSV: {exc}", code="INVALID_CSV") from exc
    columns = map_headers(headers)
    present = {field for _, field in columns if field}
    missing = [f for f in ("first_name", "last_name", "email") if f not in present]
    if missing:
        raise BadRequest(
            "The CSV needs columns for " + ", ".join(missing),
            code="MISSING_COLUMNS",
            details={"columns": headers},
        )
    rows: list[dict[str, Any]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row: dict[str, Any] = {}
            custom: dict[str, Any] = {}
            for (header, field), value in zip(columns, values, strict=False):
                if field is not None:
                    row.setdefault(field, value)
                elif value.strip():
                    custom[custom_name(header)] = value
            if custom:
                row["custom_fields"] = custom
            if len(values) > len(columns):
                row[INVALID_ROW] = f"row has {len(values)} values for {len(columns)} columns"
            rows.append(row)
    except csv.Error as exc:
        raise BadRequest(
            f"Invalid CSV at line {reader.line_num}: {exc}", code="INVALID_CSV"
        ) from exc
    return rows


def parse_json(raw: bytes) -> tuple[list[dict[str, Any]], str | None]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}", code="INVALID_JSON") from exc
    on_duplicate: str | None = None
    if isinstance(body, dict):
        parsed = bodies.validate(ImportJson, body)
        items: list[Any] = parsed.leads
        on_duplicate = parsed.onDuplicate
    elif isinstance(body, list):
        items = body
    else:
        raise BadRequest('Send an array of leads or {"leads": [...]}', code="INVALID_BODY")
    rows = [
        item if isinstance(item, dict) else {INVALID_ROW: "row is not a JSON object"}
        for item in items
    ]
    return rows, on_duplicate


@operation(
    "Import leads from CSV or JSON as a lead_import job",
    tag=TAG,
    scope="leads:write",
    body=ImportJson,
    responses={202: Accepted, 400: None, 403: None, 429: None},
    description="text/csv with a header row, or JSON. onDuplicate (query or body): "
    "error (default; the row fails), skip, or update the existing lead.",
)
async def import_leads(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:write")
    s = services(request)
    raw = await request.body()  # (its size was checked as it arrived: api.limits)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    on_duplicate = request.query_params.get("onDuplicate")
    if content_type in CSV_TYPES:
        rows, fmt = parse_csv(raw), "csv"
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        rows, from_body = parse_json(raw)
        on_duplicate, fmt = on_duplicate or from_body, "json"
    else:
        raise BadRequest(
            f"Unsupported content type {content_type!r}: send text/csv or JSON",
            code="UNSUPPORTED_CONTENT_TYPE",
        )
    on_duplicate = on_duplicate or "error"
    if on_duplicate not in ON_DUPLICATE:
        raise BadRequest(
            "onDuplicate must be one of " + ", ".join(ON_DUPLICATE), code="INVALID_QUERY"
        )
    if not rows:
        raise BadRequest("Nothing to import", code="EMPTY_IMPORT")
    if len(rows) > s.settings.leads_import_max_rows:
        raise BadRequest(
            f"At most {s.settings.leads_import_max_rows} rows per import", code="TOO_MANY_ROWS"
        )
    await s.fair.check_bulk(user_id, "bulkImportRows", len(rows))
    await s.fair.check_running(user_id, "lead_import")
    job_id = "import_" + uuid.uuid4().hex
    record = LeadImport(id=job_id, user_id=user_id, source_format=fmt, on_duplicate=on_duplicate)
    await import_repo.stage_import(s.db, record, rows)
    await s.jobs.start(
        "LeadImportWorkflow",
        LeadImportInput(
            import_id=job_id,
            user_id=user_id,
            total=len(rows),
            heartbeat_timeout_seconds=s.settings.activity_heartbeat_timeout_seconds,
        ),
        job_id=job_id,
        user_id=user_id,
        job_type="lead_import",
        queue=queues.ENRICHMENT,
        message=f"Importing {len(rows)} leads",
        metadata={"totalRows": len(rows)},
        result_type=LeadImportOutput,
        summary=summaries.lead_import(len(rows), fmt),
    )
    return JSONResponse(
        {"success": True, "data": {"jobId": job_id, "status": "pending", "totalRows": len(rows)}},
        status_code=202,
    )


@operation(
    "A lead import's progress, counts and row errors",
    tag=TAG,
    scope="leads:read",
    query=PageQuery,
    responses={200: ImportStatusResponse, 404: None},
)
async def import_status(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:read")
    q = bodies.query_model(request, PageQuery)
    s = services(request)
    job_id = request.path_params["job_id"]
    record = await import_repo.get_import(s.db, user_id, job_id)
    if record is None:
        raise NotFound("Import not found", code="IMPORT_NOT_FOUND")
    view = await job_view(s.jobs, user_id, job_id)
    counts = await import_repo.import_counts(s.db, job_id)
    problems, total = await import_repo.list_problems(s.db, job_id, limit=q.limit, offset=q.offset)
    errors = [
        ImportRowError(
            row=r.row_number,
            status=r.status,
            field=r.error_field,
            code=r.error_code,
            message=r.error,
            leadId=r.lead_id,
        ).model_dump()
        for r in problems
    ]
    data = {
        "jobId": job_id,
        "status": view["status"],
        "progress": view["progress"],
        "message": view["message"],
        "createdAt": view["createdAt"],
        "completedAt": view["completedAt"],
        "totalRows": record.total_rows,
        **counts,
        "errors": errors,
        "pagination": {"limit": q.limit, "offset": q.offset, "total": total},
    }
    return JSONResponse({"success": True, "data": data})


routes = [
    Route("/api/v2/leads/import", import_leads, methods=["POST"]),
    Route("/api/v2/leads/import/{job_id}", import_status, methods=["GET"]),
]
