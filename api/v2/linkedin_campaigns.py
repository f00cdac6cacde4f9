"""LinkedIn campaigns (sequences): create, read, change a draft, list, targets, controls,
stats. Scope ``linkedin:schedule``; a global key names the user with ``userId`` (body, or
the query on reads and on bodiless controls), as the other LinkedIn routes do."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require, required_user
from api.errors import BadRequest
from api.linkedin.campaign_models import (
    CampaignCreate,
    CampaignListData,
    CampaignListResponse,
    CampaignPatch,
    CampaignQuery,
    CampaignResponse,
    CampaignStats,
    Pagination,
    RemovedResponse,
    Started,
    StartedResponse,
    StatsResponse,
    TargetFields,
    TargetsAdded,
    TargetsAddedResponse,
    TargetsBody,
    UserBody,
    campaign_out,
    removed_out,
)
from api.linkedin.models import UserQuery
from api.spec import operation
from api.state import services
from engine.models.campaigns import CampaignSettings
from engine.services.linkedin_campaigns import AccountNotConnected, CampaignService, Targets
from store.lead_repo import LeadFilter

TAG = "LinkedIn Campaigns"
SCOPE = "linkedin:schedule"
BASE = "/api/v2/linkedin/campaigns"


def _service(request: Request) -> CampaignService:
    s = services(request)
    return CampaignService(s.settings, s.db, s.jobs, s.temporal, s.events)


def _reply(user_id: str, data: object, status: int = 200) -> JSONResponse:
    payload = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
    return JSONResponse({"userId": user_id, "success": True, "data": payload}, status_code=status)


def _targets(body: TargetFields | None) -> Targets | None:
    if body is None:
        return None
    f = body.leadFilter
    return Targets(
        profile_urls=body.profileUrls,
        leads=body.leads,
        lead_ids=body.leadIds,
        lead_filter=LeadFilter(search=f.search, company=f.company, status=f.status, tag=f.tag)
        if f
        else None,
    )


async def _user(request: Request, *, body: bool) -> str:
    """The acting user: ``userId`` in an (optional) body, else in the query."""
    principal = require(request, SCOPE)
    named = None
    if body:
        named = bodies.validate(UserBody, await bodies.json_body(request)).userId
    named = named or bodies.query_model(request, UserQuery).userId
    return required_user(principal, named)


def _not_connected(exc: AccountNotConnected) -> BadRequest:
    return BadRequest(exc.message, code="LINKEDIN_NOT_CONNECTED")


@operation(
    "Create a campaign",
    tag=TAG,
    scope=SCOPE,
    body=CampaignCreate,
    responses={201: CampaignResponse, 400: None, 422: None},
    description="A draft: steps (viewProfile, followProfile, sendConnectionRequest, "
    "waitForAcceptance, sendMessage, wait, likePost, withdrawConnectionRequest, stopIf, "
    "branch), sending accounts (default: yours), settings and optional first targets.",
)
async def create_campaign(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, CampaignCreate)
    user_id = required_user(principal, body.userId)
    try:
        row, counts = await _service(request).create(
            user_id,
            name=body.name,
            steps=body.steps,
            settings=body.settings or CampaignSettings(),
            account_ids=body.accountIds,
            targets=_targets(body.targets),
        )
    except AccountNotConnected as exc:
        raise _not_connected(exc) from exc
    return _reply(user_id, campaign_out(row, counts), 201)


@operation(
    "List campaigns",
    tag=TAG,
    scope=SCOPE,
    query=CampaignQuery,
    responses={200: CampaignListResponse, 400: None},
    description="Newest first; page with pageToken.",
)
async def list_campaigns(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    q = bodies.query_model(request, CampaignQuery)
    user_id = required_user(principal, q.userId)
    try:
        page = await _service(request).page(
            user_id, status=q.status, limit=q.limit, page_token=q.pageToken
        )
    except ValueError as exc:  # a page token this listing did not issue
        raise BadRequest(str(exc), code="INVALID_QUERY") from exc
    data = CampaignListData(
        campaigns=[campaign_out(c) for c in page.campaigns],
        pagination=Pagination(
            limit=q.limit, nextPageToken=page.next_page_token, hasMore=bool(page.next_page_token)
        ),
    )
    return _reply(user_id, data)


@operation(
    "Get a campaign",
    tag=TAG,
    scope=SCOPE,
    query=UserQuery,
    responses={200: CampaignResponse, 404: None},
)
async def get_campaign(request: Request) -> JSONResponse:
    user_id = await _user(request, body=False)
    row, counts = await _service(request).detail(user_id, request.path_params["id"])
    return _reply(user_id, campaign_out(row, counts))


@operation(
    "Change a draft campaign",
    tag=TAG,
    scope=SCOPE,
    body=CampaignPatch,
    responses={200: CampaignResponse, 404: None, 409: None, 422: None},
    description="Only while draft (409 CAMPAIGN_STATE_CONFLICT otherwise).",
)
async def update_campaign(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, CampaignPatch)
    user_id = required_user(principal, body.userId)
    row = await _service(request).update(
        user_id,
        request.path_params["id"],
        name=body.name,
        steps=body.steps,
        settings=body.settings,
        account_ids=body.accountIds,
    )
    return _reply(user_id, campaign_out(row))


@operation(
    "Add targets to a campaign",
    tag=TAG,
    scope=SCOPE,
    body=TargetsBody,
    responses={202: TargetsAddedResponse, 404: None, 409: None, 422: None},
    description="At most 1,000 per request; members already in the campaign count as "
    "duplicates. A running or paused campaign enrolls them at once.",
)
async def add_targets(request: Request) -> JSONResponse:
    principal = require(request, SCOPE)
    body = await bodies.read(request, TargetsBody)
    user_id = required_user(principal, body.userId)
    campaign_id = request.path_params["id"]
    targets = _targets(body)
    assert targets is not None
    try:
        added = await _service(request).add_targets(user_id, campaign_id, targets)
    except AccountNotConnected as exc:
        raise _not_connected(exc) from exc
    data = TargetsAdded(
        campaignId=campaign_id,
        added=added.added,
        duplicates=added.duplicates,
        enrolled=added.enrolled,
    )
    return _reply(user_id, data, 202)


@operation(
    "Remove a lead from a campaign",
    tag=TAG,
    scope=SCOPE,
    query=UserQuery,
    responses={200: RemovedResponse, 404: None},
    description="By lead id, enrollment id or the member's public identifier; its "
    "enrollment is cancelled (a queued action is withdrawn from the governor).",
)
async def remove_lead(request: Request) -> JSONResponse:
    user_id = await _user(request, body=False)
    row = await _service(request).remove(
        user_id, request.path_params["id"], request.path_params["lead"]
    )
    return _reply(user_id, removed_out(row))


@operation(
    "Start a campaign",
    tag=TAG,
    scope=SCOPE,
    body=UserBody,
    responses={202: StartedResponse, 400: None, 404: None, 409: None, 422: None},
    description="One campaign_enrollment job per target. Again on a running campaign: "
    "enrolls targets an interrupted start left.",
)
async def start_campaign(request: Request) -> JSONResponse:
    user_id = await _user(request, body=True)
    campaign_id = request.path_params["id"]
    try:
        enrolled, status = await _service(request).start(user_id, campaign_id)
    except AccountNotConnected as exc:
        raise _not_connected(exc) from exc
    return _reply(user_id, Started(campaignId=campaign_id, status=status, enrolled=enrolled), 202)


async def _control(request: Request, action: str) -> JSONResponse:
    user_id = await _user(request, body=True)
    service = _service(request)
    campaign_id = request.path_params["id"]
    if action == "pause":
        row = await service.pause(user_id, campaign_id)
    elif action == "resume":
        row = await service.resume(user_id, campaign_id)
    else:
        row = await service.cancel(user_id, campaign_id)
    return _reply(user_id, campaign_out(row))


@operation(
    "Pause a campaign",
    tag=TAG,
    scope=SCOPE,
    body=UserBody,
    responses={200: CampaignResponse, 404: None, 409: None},
    description="Enrollments hold before their next action (one batch signal).",
)
async def pause_campaign(request: Request) -> JSONResponse:
    return await _control(request, "pause")


@operation(
    "Resume a campaign",
    tag=TAG,
    scope=SCOPE,
    body=UserBody,
    responses={200: CampaignResponse, 404: None, 409: None},
)
async def resume_campaign(request: Request) -> JSONResponse:
    return await _control(request, "resume")


@operation(
    "Cancel a campaign",
    tag=TAG,
    scope=SCOPE,
    body=UserBody,
    responses={200: CampaignResponse, 404: None, 409: None},
    description="Every enrollment is cancelled by one batch operation.",
)
async def cancel_campaign(request: Request) -> JSONResponse:
    return await _control(request, "cancel")


@operation(
    "Campaign stats",
    tag=TAG,
    scope=SCOPE,
    query=UserQuery,
    responses={200: StatsResponse, 404: None},
    description="Enrolled, invited, accepted, replied, rates; per step and per account "
    "(from the database), enrollment workflows by status (one visibility count).",
)
async def campaign_stats(request: Request) -> JSONResponse:
    user_id = await _user(request, body=False)
    campaign_id = request.path_params["id"]
    stats = await _service(request).stats(user_id, campaign_id)
    return _reply(user_id, CampaignStats(campaignId=campaign_id, **stats))


routes = [
    Route(BASE, create_campaign, methods=["POST"]),
    Route(BASE, list_campaigns, methods=["GET"]),
    Route(BASE + "/{id}", get_campaign, methods=["GET"]),
    Route(BASE + "/{id}", update_campaign, methods=["PATCH"]),
    Route(BASE + "/{id}/targets", add_targets, methods=["POST"]),
    Route(BASE + "/{id}/leads/{lead}", remove_lead, methods=["DELETE"]),
    Route(BASE + "/{id}/start", start_campaign, methods=["POST"]),
    Route(BASE + "/{id}/pause", pause_campaign, methods=["POST"]),
    Route(BASE + "/{id}/resume", resume_campaign, methods=["POST"]),
    Route(BASE + "/{id}/cancel", cancel_campaign, methods=["POST"]),
    Route(BASE + "/{id}/stats", campaign_stats, methods=["GET"]),
]
