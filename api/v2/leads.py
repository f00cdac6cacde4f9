"""Leads (leads and keys API): list with filters and sorting, create, read, update, delete.

Bodies are the ``Lead`` object itself, as the ``buena-sdk`` client expects;
errors are the /api/v2 family's. Missing required fields are 400, an invalid
email or phone 422 (``email-validator``, ``phonenumbers``), a duplicate email
(per user, case-insensitive, enforced by a unique index) 409, another user's
lead 404. Creates and updates emit ``lead.created`` / ``lead.updated``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require, required_user
from api.errors import BadRequest, Conflict, NotFound, Unprocessable
from api.spec import operation
from api.state import services
from api.v2.lead_schemas import (
    CreateLead,
    DeleteResult,
    LeadList,
    LeadListQuery,
    LeadOut,
    UpdateLead,
    lead_public,
)
from engine.models.events import event_id_for
from store import lead_repo
from store.lead_fields import LeadFieldError, clean_fields
from store.leads import Lead

TAG = "Leads"
MAX_LIMIT = 100


def lead_user(request: Request, scope: str) -> str:
    """A user key acts for itself; a global key names the user with ``?userId=``."""
    principal = require(request, scope)
    return required_user(principal, request.query_params.get("userId"))


def field_error(exc: LeadFieldError) -> Exception:
    details = {"errors": [{"field": exc.field, "message": exc.message}]}
    if exc.missing:
        return BadRequest(exc.message, code="MISSING_FIELDS", details=details)
    return Unprocessable(exc.message, code=exc.code, details=details)


def cleaned(request: Request, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    try:
        return clean_fields(
            data, region=services(request).settings.default_phone_region, partial=partial
        )
    except LeadFieldError as exc:
        raise field_error(exc) from exc


def duplicate(email: str) -> Conflict:
    return Conflict(f"Lead with email {email} already exists", code="LEAD_EXISTS")


def not_found() -> NotFound:
    return NotFound("Lead not found", code="LEAD_NOT_FOUND")


async def announce(request: Request, user_id: str, event: str, lead: Lead) -> None:
    """``lead.created`` / ``lead.updated`` through the webhooks fan-out (only if subscribed)."""
    s = services(request)
    stamp = lead.updated_at.isoformat() if event == "lead.updated" else ""
    await s.events.publish_one(
        user_id, event, {"lead": lead_public(lead)}, event_id_for(f"{lead.id}:{stamp}", event)
    )


@operation(
    "List leads",
    tag=TAG,
    scope="leads:read",
    operation_id="list_leads",
    query=LeadListQuery,
    responses={200: LeadList},
    description="Filters: search (name, email), company, status, tag. Sorted by "
    "created_at, updated_at, first_name or last_name; limit is capped at 100.",
)
async def list_leads(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:read")
    q = bodies.query_model(request, LeadListQuery)
    limit = min(q.limit, MAX_LIMIT)
    rows, total = await lead_repo.list_leads(
        services(request).db,
        user_id,
        lead_repo.LeadFilter(search=q.search, company=q.company, status=q.status, tag=q.tag),
        sort=q.sort,
        order=q.order,
        limit=limit,
        offset=q.offset,
    )
    data = [lead_public(r) for r in rows]
    return JSONResponse(
        {"data": data, "leads": data, "total": total, "limit": limit, "offset": q.offset}
    )


@operation(
    "Create a lead",
    tag=TAG,
    scope="leads:write",
    operation_id="create_lead",
    body=CreateLead,
    responses={201: LeadOut, 400: None, 409: None, 422: None},
)
async def create_lead(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:write")
    body = await bodies.read(request, CreateLead)
    values = cleaned(request, body.model_dump(exclude_unset=True), partial=False)
    try:
        lead = await lead_repo.create_lead(services(request).db, user_id, values)
    except lead_repo.DuplicateEmail as exc:
        raise duplicate(values["email"]) from exc
    await announce(request, user_id, "lead.created", lead)
    return JSONResponse(lead_public(lead), status_code=201)


@operation(
    "Get a lead",
    tag=TAG,
    scope="leads:read",
    operation_id="get_lead",
    responses={200: LeadOut, 404: None},
)
async def get_lead(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:read")
    try:
        lead = await lead_repo.get_lead(services(request).db, user_id, request.path_params["id"])
    except lead_repo.LeadNotFound as exc:
        raise not_found() from exc
    return JSONResponse(lead_public(lead))


@operation(
    "Update a lead",
    tag=TAG,
    scope="leads:write",
    operation_id={"PUT": "update_lead", "PATCH": "patch_lead"},
    body=UpdateLead,
    responses={200: LeadOut, 400: None, 404: None, 409: None, 422: None},
    description="PUT and PATCH are the same update: only the fields sent change; tags are "
    "replaced; custom_fields keys are merged into the stored ones (null removes one).",
)
async def update_lead(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:write")
    body = bodies.validate(UpdateLead, await bodies.json_body(request), missing_is_400=False)
    values = cleaned(request, body.model_dump(exclude_unset=True), partial=True)
    if not values:
        raise BadRequest("Invalid update data: no lead fields given", code="NO_FIELDS")
    try:
        lead = await lead_repo.update_lead(
            services(request).db,
            user_id,
            request.path_params["id"],
            values,
            # "Update custom fields": PUT merges like PATCH, so keys not sent are kept.
            merge_custom=True,
        )
    except lead_repo.LeadNotFound as exc:
        raise not_found() from exc
    except lead_repo.DuplicateEmail as exc:
        raise duplicate(values.get("email", "")) from exc
    await announce(request, user_id, "lead.updated", lead)
    return JSONResponse(lead_public(lead))


@operation(
    "Delete a lead",
    tag=TAG,
    scope="leads:delete",
    operation_id="delete_lead",
    responses={200: DeleteResult, 404: None},
)
async def delete_lead(request: Request) -> JSONResponse:
    user_id = lead_user(request, "leads:delete")
    lead_id = request.path_params["id"]
    try:
        await lead_repo.delete_lead(services(request).db, user_id, lead_id)
    except lead_repo.LeadNotFound as exc:
        raise not_found() from exc
    return JSONResponse(
        {"success": True, "message": "Lead deleted successfully", "deleted_id": lead_id}
    )


routes = [
    Route("/api/v2/leads", list_leads, methods=["GET"]),
    Route("/api/v2/leads", create_lead, methods=["POST"]),
    Route("/api/v2/leads/{id}", get_lead, methods=["GET"]),
    Route("/api/v2/leads/{id}", update_lead, methods=["PUT", "PATCH"]),
    Route("/api/v2/leads/{id}", delete_lead, methods=["DELETE"]),
]
