"""Enrichment batches: start one as a ``data_enrichment`` job, read its per-lead results.

``POST /api/v2/enrichment/batches {leadIds? | filter?, providers?, fields?, overwrite?}``
answers 202 ``{success, data: {jobId}}``; cancel through the jobs API
(``DELETE /api/v2/users/jobs/{jobId}``). Provider keys come from a stored
credential (``credentials: {provider: credentialId}``), from ``apiKeys``
(sealed here, so only an id reaches the workflow), or from the operator's
settings (``TASKYARD_HUNTER_API_KEY``, ``TASKYARD_PDL_API_KEY``) when the operator allows it
(``TASKYARD_ENRICHMENT_OPERATOR_KEYS``), counted against a monthly per-user quota.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.common import Priority

from api import bodies
from api.errors import BadRequest, NotFound, Unprocessable
from api.spec import operation
from api.state import Services, services
from api.v2.jobs import job_view
from api.v2.lead_schemas import (
    Accepted,
    BatchItem,
    BatchStatusResponse,
    CreateBatch,
    PageQuery,
)
from api.v2.leads import lead_user
from engine.models import queues, summaries
from engine.models.enrichment import EnrichmentBatchInput, EnrichmentBatchOutput
from engine.models.fairness import BULK
from engine.services import catalog
from engine.services.sealing import seal
from store import enrichment_repo
from store.db import as_utc
from store.leads import EnrichmentBatch

TAG = "Enrichment"


def providers_of(data: CreateBatch) -> list[str]:
    """Known names, deduplicated, ``local`` first so real providers' answers win."""
    known = catalog.enrichment_providers()
    names = list(dict.fromkeys(data.providers or catalog.DEFAULT_ENRICHMENT_PROVIDERS))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise Unprocessable(
            f"Unknown provider(s) {', '.join(unknown)}; known: {', '.join(known)}",
            code="UNKNOWN_PROVIDER",
        )
    if not names:
        raise Unprocessable("providers must name at least one provider", code="NO_PROVIDER")
    return sorted(names, key=lambda n: n != "local")


def check_keys(request: Request, data: CreateBatch, names: list[str]) -> list[str]:
    """Every provider needing a key has one; returns those that would run on the operator's
    keys (billed to the operator: only when the operator allows it)."""
    known = catalog.enrichment_providers()
    settings = services(request).settings
    operator = {"hunter": settings.hunter_api_key, "pdl": settings.pdl_api_key}
    on_operator: list[str] = []
    for name in names:
        if not known[name].needs_key:
            continue
        if (data.credentials or {}).get(name) or (data.apiKeys or {}).get(name):
            continue
        if operator.get(name) is None or not settings.enrichment_operator_keys:
            raise Unprocessable(
                f"Provider {name!r} needs an API key: pass credentials.{name} (a credential id)"
                f" or apiKeys.{name}",
                code="PROVIDER_KEY_REQUIRED",
            )
        on_operator.append(name)
    return on_operator


@operation(
    "Start an enrichment batch (a data_enrichment job)",
    tag=TAG,
    scope="leads:write",
    body=CreateBatch,
    responses={202: Accepted, 400: None, 403: None, 422: None, 429: None},
)
async def create_batch(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:write")
    data = bodies.validate(CreateBatch, await bodies.json_body(request))
    if (data.leadIds is None) == (data.filter is None):
        raise BadRequest("Send exactly one of leadIds or filter", code="INVALID_BODY")
    if data.leadIds is not None and not data.leadIds:
        raise BadRequest("leadIds is empty", code="INVALID_BODY")
    names = providers_of(data)
    on_operator = check_keys(request, data, names)
    s = services(request)
    await s.fair.check_running(user_id, "data_enrichment")
    size = (
        len(data.leadIds)
        if data.leadIds is not None
        else await enrichment_repo.count_matching(
            s.db, user_id, data.filter.model_dump(exclude_none=True) if data.filter else {}
        )
    )
    await s.fair.check_bulk(user_id, "bulkEnrichmentLeads", size)
    if on_operator:  # billed to the operator: counted against the user's monthly allowance
        await s.fair.take_operator_enrichment(user_id, size)
    job_id = "enrich_" + uuid.uuid4().hex
    secret = {k: v for k, v in (data.apiKeys or {}).items() if k in names and v}
    batch = EnrichmentBatch(
        id=job_id,
        user_id=user_id,
        lead_ids=data.leadIds,
        filter=data.filter.model_dump(exclude_none=True) if data.filter else None,
        providers=names,
        fields=list(data.fields or catalog.ENRICHABLE_FIELDS),
        overwrite=data.overwrite,
        credential_ids={k: v for k, v in (data.credentials or {}).items() if k in names},
        sealed_secret_id=await seal(s.db, s.vault, user_id, secret) if secret else None,
    )
    await enrichment_repo.save_batch(s.db, batch)
    known = catalog.enrichment_providers()
    http = any(known[n].needs_key for n in names)
    priority = await s.jobs.priority(user_id, BULK, requested=data.priority)
    try:
        await _start_batch(s, job_id, user_id, data, http=http, priority=priority, names=names)
    except BaseException:
        if on_operator:
            await s.fair.give_back_operator_enrichment(user_id, size)
        raise
    return JSONResponse(
        {"success": True, "data": {"jobId": job_id, "status": "pending"}}, status_code=202
    )


async def _start_batch(
    s: Services,
    job_id: str,
    user_id: str,
    data: CreateBatch,
    *,
    http: bool,
    priority: Priority,
    names: list[str],
) -> None:
    await s.jobs.start(
        "EnrichmentBatchWorkflow",
        EnrichmentBatchInput(
            batch_id=job_id,
            user_id=user_id,
            chunk_size=s.settings.enrichment_http_chunk_size
            if http
            else s.settings.enrichment_chunk_size,
            heartbeat_timeout_seconds=s.settings.activity_heartbeat_timeout_seconds,
        ),
        job_id=job_id,
        user_id=user_id,
        job_type="data_enrichment",
        queue=queues.ENRICHMENT,
        message="Processing lead enrichment batch",
        metadata={"batchSize": len(data.leadIds or []), "processed": 0},
        result_type=EnrichmentBatchOutput,
        summary=summaries.enrichment(names),
        priority=priority,
    )


@operation(
    "An enrichment batch's progress and per-lead results",
    tag=TAG,
    scope="leads:read",
    query=PageQuery,
    responses={200: BatchStatusResponse, 404: None},
)
async def batch_status(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:read")
    q = bodies.query_model(request, PageQuery)
    s = services(request)
    job_id = request.path_params["job_id"]
    batch = await enrichment_repo.get_batch(s.db, user_id, job_id)
    if batch is None:
        raise NotFound("Enrichment batch not found", code="BATCH_NOT_FOUND")
    view = await job_view(s.jobs, user_id, job_id)
    counts = await enrichment_repo.counts(s.db, job_id)
    items, total = await enrichment_repo.list_items(
        s.db, job_id, status=q.status, limit=q.limit, offset=q.offset
    )
    results = []
    for item in items:
        result = item.result or {}
        updated = as_utc(item.updated_at)
        results.append(
            BatchItem(
                leadId=item.lead_id,
                status=item.status,
                fieldsUpdated=list(result.get("fieldsUpdated") or []),
                providers=dict(result.get("providers") or {}),
                error=item.error,
                updatedAt=updated.isoformat().replace("+00:00", "Z") if updated else None,
            ).model_dump()
        )
    data = {
        "jobId": job_id,
        "type": "data_enrichment",
        "status": view["status"],
        "progress": view["progress"],
        "message": view["message"],
        "createdAt": view["createdAt"],
        "completedAt": view["completedAt"],
        "providers": batch.providers,
        "fields": batch.fields,
        "overwrite": batch.overwrite,
        "batchSize": batch.total if batch.prepared else len(batch.lead_ids or []),
        "processed": counts["enriched"] + counts["failed"],
        **counts,
        "results": results,
        "pagination": {"limit": q.limit, "offset": q.offset, "total": total},
    }
    return JSONResponse({"success": True, "data": data})


routes = [
    Route("/api/v2/enrichment/batches", create_batch, methods=["POST"]),
    Route("/api/v2/enrichment/batches/{job_id}", batch_status, methods=["GET"]),
]
