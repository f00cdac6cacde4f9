"""Scheduling LinkedIn actions as jobs, and the governor's settings.

Every action is one ``linkedin_action`` job. Before starting jobs the account's
governor is made sure to run (start with USE_EXISTING, settings from the
database); each job then asks it for a slot itself. A bulk request has its
message and note rendered per target by the campaigns service (the template
engine of the workflows) before anything starts, so a bad target refuses the
whole request and nothing is half-scheduled by validation.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from temporalio.service import RPCError

from api import bodies
from api.errors import BadRequest, Unavailable, Unprocessable
from api.linkedin.connect import require_user_exists
from api.linkedin.models import (
    BulkSchedule,
    BulkScheduled,
    ScheduleAction,
    Scheduled,
    SettingsData,
    SettingsPatch,
)
from api.state import Services
from engine.models import queues
from engine.models.linkedin import LinkedInActionInput, LinkedInSettings
from engine.services.campaigns import campaign_targets, plan_campaign
from engine.services.linkedin import (
    configure_governor,
    ensure_governor,
    governor_view,
    start_action,
)
from store import linkedin as store

START_CONCURRENCY = 16
GOVERNOR_CHECK_SECONDS = 30.0
# account id → when this process last made sure its governor runs. A burst of requests
# for one account then costs one start RPC, not one each; a governor stopped by hand is
# started again within GOVERNOR_CHECK_SECONDS (jobs started meanwhile fail, saying so).
_governors_seen: dict[str, float] = {}


def new_job_id() -> str:
    return "job_" + uuid.uuid4().hex[:24]


def account_settings(account: store.LinkedInAccount | None) -> LinkedInSettings:
    return LinkedInSettings.model_validate((account.settings if account else None) or {})


async def connected_account(s: Services, user_id: str) -> store.LinkedInAccount:
    account = await store.get_account(s.db, user_id)
    if account is None or account.status != "connected":
        raise BadRequest(
            "LinkedIn is not connected for this user: connect it first with "
            "POST /api/v2/users/integrations/linkedin",
            code="LINKEDIN_NOT_CONNECTED",
        )
    return account


def _queue(s: Services) -> str:
    return queues.task_queue(s.settings.task_queue_prefix, queues.LINKEDIN)


async def _start_all(
    s: Services,
    account: store.LinkedInAccount,
    inputs: list[LinkedInActionInput],
    *,
    bulk: bool = False,
) -> list[str]:
    """Start the actions (``bulk``: a campaign's, bulk work; else one interactive action)."""
    await s.fair.check_running(account.user_id, "linkedin_action", adding=len(inputs))
    try:
        seen = _governors_seen.get(account.id)
        if seen is None or time.monotonic() - seen > GOVERNOR_CHECK_SECONDS:
            await ensure_governor(
                s.temporal,
                account_id=account.id,
                settings=account_settings(account),
                queue=_queue(s),
                user_id=account.user_id,
            )
            _governors_seen[account.id] = time.monotonic()
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def one(data: LinkedInActionInput) -> str:
            job_id = new_job_id()
            async with gate:
                await start_action(
                    s.jobs,
                    data,
                    job_id=job_id,
                    message="Queued: waiting for a slot from the LinkedIn governor",
                    bulk=bulk,
                )
            return job_id

        return list(await asyncio.gather(*(one(d) for d in inputs)))
    except RPCError as exc:
        raise Unavailable(
            f"Could not schedule on Temporal: {exc.message}", code="SCHEDULER_UNAVAILABLE"
        ) from exc


def _action_input(
    s: Services,
    account: store.LinkedInAccount,
    user_id: str,
    action_type: str,
    url: str,
    *,
    message: str | None,
    note: str | None,
    post_url: str | None,
    not_before: datetime | None,
    metadata: dict[str, Any] | None = None,
) -> LinkedInActionInput:
    return LinkedInActionInput(
        user_id=user_id,
        account_id=account.id,
        action_type=action_type,
        profile_url=url,
        message=message,
        note=note,
        post_url=post_url,
        not_before=not_before,
        provider=account.provider,
        metadata=metadata or {},
        activity_timeout_seconds=s.settings.http_timeout_seconds * 3 + 30,
        heartbeat_timeout_seconds=s.settings.activity_heartbeat_timeout_seconds,
    )


async def schedule(s: Services, user_id: str, body: ScheduleAction) -> Scheduled:
    account = await connected_account(s, user_id)
    data = _action_input(
        s,
        account,
        user_id,
        body.actionType,
        body.profileUrl,
        message=body.message,
        note=body.note,
        post_url=body.postUrl,
        not_before=body.scheduledAt,
        metadata={"scheduledAt": body.scheduledAt.isoformat()} if body.scheduledAt else None,
    )
    [job_id] = await _start_all(s, account, [data])
    return Scheduled(
        jobId=job_id,
        status="pending",
        actionType=body.actionType,
        profileUrl=body.profileUrl,
        provider=account.provider,
    )


# ---- campaigns ----------------------------------------------------------------------------


async def schedule_bulk(s: Services, user_id: str, body: BulkSchedule) -> BulkScheduled:
    account = await connected_account(s, user_id)
    targets = await campaign_targets(
        s.db, user_id, profile_urls=body.profileUrls, leads=body.leads, lead_ids=body.leadIds
    )
    await s.fair.check_bulk(user_id, "bulkLinkedinTargets", len(targets))
    plan = await plan_campaign(targets, message=body.message, note=body.note)
    if plan.problems:
        raise Unprocessable(
            f"{len(plan.problems)} problem(s) in the campaign; nothing was scheduled",
            details={"errors": plan.problems[:100]},
        )
    campaign_id = "cmp_" + uuid.uuid4().hex[:16]
    inputs: list[LinkedInActionInput] = []
    for target in plan.targets:
        meta: dict[str, Any] = {"campaignId": campaign_id}
        if body.campaignName:
            meta["campaignName"] = body.campaignName
        if target.lead_id:
            meta["leadId"] = target.lead_id
        inputs.append(
            _action_input(
                s,
                account,
                user_id,
                body.actionType,
                target.profile_url,
                message=target.message,
                note=target.note,
                post_url=body.postUrl,
                not_before=body.scheduledAt,
                metadata=meta,
            )
        )
    job_ids = await _start_all(s, account, inputs, bulk=True)
    return BulkScheduled(
        campaignId=campaign_id,
        actionType=body.actionType,
        count=len(job_ids),
        duplicates=plan.duplicates,
        jobIds=job_ids,
        status="pending",
    )


# ---- settings -----------------------------------------------------------------------------


async def read_settings(s: Services, user_id: str) -> SettingsData:
    await require_user_exists(s, user_id)
    account = await store.get_account(s.db, user_id)
    current = account_settings(account)
    view = None
    if account is not None:
        try:
            view = await governor_view(s.temporal, account.id)
        except RPCError:
            view = None  # the live view is a bonus; the settings themselves come from the DB
    return SettingsData(
        **current.public(),
        connected=bool(account and account.status == "connected"),
        governor=view,
    )


async def change_settings(s: Services, user_id: str, patch: SettingsPatch) -> SettingsData:
    await require_user_exists(s, user_id)
    account = await store.ensure_account(s.db, user_id)
    merged = account_settings(account).public()
    given = patch.model_dump(by_alias=True, exclude={"userId"}, exclude_unset=True)
    for key in ("dailyLimits", "weeklyLimits"):
        if given.get(key) is not None:
            merged[key] = {**merged[key], **given.pop(key)}
    merged.update({k: v for k, v in given.items() if v is not None or k == "workingHours"})
    try:
        settings = LinkedInSettings.model_validate(merged)
    except ValidationError as exc:
        problems = bodies.describe(exc)
        raise Unprocessable(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            details={"errors": problems},
        ) from exc
    account = await store.save_settings(s.db, user_id, settings.model_dump(mode="json"))
    if account.status == "connected":
        try:
            await configure_governor(
                s.temporal,
                account_id=account.id,
                settings=settings,
                queue=_queue(s),
                user_id=user_id,
            )
        except RPCError as exc:
            raise Unavailable(
                f"Settings saved but the governor was not updated: {exc.message}",
                code="SCHEDULER_UNAVAILABLE",
            ) from exc
    return await read_settings(s, user_id)
