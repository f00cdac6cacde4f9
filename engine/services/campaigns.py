"""LinkedIn campaigns: one action type for many targets, each with its own message and note.

``campaign_targets`` gathers the targets of a request (profile URLs, inline leads,
stored leads) as field dicts; ``plan_campaign`` normalizes each profile URL and
renders the texts per target before anything starts, so a bad target refuses the
whole request and nothing is half-scheduled by validation. Rendering is pure CPU
on user input: a large batch runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from engine.services import templates
from engine.services.linkedin import check_note, profile_url
from store import lead_repo
from store.db import Database
from store.errors import InvalidError
from store.leads import Lead

MESSAGE_LIMIT = 8000  # characters of a message, as a template and once rendered
NOTE_TEMPLATE_LIMIT = 2000  # characters of a note template; rendered, LinkedIn allows 300
THREAD_FROM = 50  # targets from which rendering leaves the event loop


@dataclass(frozen=True)
class Target:
    profile_url: str
    message: str | None
    note: str | None
    lead_id: Any  # the target's leadId as given, for the job's metadata


@dataclass
class CampaignPlan:
    targets: list[Target] = field(default_factory=list)
    duplicates: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)


def lead_fields(lead: Lead) -> dict[str, Any]:
    """A stored lead as template fields (custom fields first, the columns win)."""
    return {
        **(lead.custom_fields or {}),
        "firstName": lead.first_name,
        "lastName": lead.last_name,
        "email": lead.email,
        "company": lead.company,
        "jobTitle": lead.job_title,
        "title": lead.job_title,
        "location": lead.location,
        "profileUrl": lead.linkedin_url,
    }


async def campaign_targets(
    db: Database,
    user_id: str,
    *,
    profile_urls: list[str],
    leads: list[dict[str, Any]],
    lead_ids: list[str],
) -> list[dict[str, Any]]:
    """Every target as a field dict with ``profileUrl``, in request order."""
    targets: list[dict[str, Any]] = [{"profileUrl": url} for url in profile_urls]
    for lead in leads:
        url = lead.get("profileUrl") or lead.get("linkedinUrl") or lead.get("linkedin_url")
        targets.append({**lead, "profileUrl": url})
    if lead_ids:
        by_id = await lead_repo.leads_by_ids(db, user_id, lead_ids)
        unknown = [i for i in lead_ids if i not in by_id]
        if unknown:
            raise InvalidError(
                "Some leads were not found",
                code="LEADS_NOT_FOUND",
                details={"leadIds": unknown[:50]},
            )
        targets.extend({**lead_fields(by_id[i]), "leadId": i} for i in lead_ids)
    return targets


def _render(
    text: templates.TextTemplate, context: dict[str, Any], name: str, limit: int
) -> tuple[str, str | None]:
    """(rendered text, the problem with it or None)."""
    try:
        rendered, absent = text.render(context, limit=limit)
    except templates.TextTooLong as exc:
        return "", f"{name} {exc}"
    if absent:
        return rendered, f"no value for {', '.join(dict.fromkeys(absent))}"
    return rendered, None


def _plan(
    targets: list[dict[str, Any]],
    message: templates.TextTemplate | None,
    note: templates.TextTemplate | None,
) -> CampaignPlan:
    plan = CampaignPlan()
    names = templates.names_read([message, note])
    seen: set[str] = set()
    for index, fields in enumerate(targets):
        try:
            url = profile_url(str(fields.get("profileUrl") or ""))
        except ValueError as exc:
            plan.problems.append({"index": index, "field": "profileUrl", "message": str(exc)})
            continue
        context = templates.field_context(fields, names)
        texts: dict[str, str | None] = {"message": None, "note": None}
        for name, text, limit in (
            ("message", message, MESSAGE_LIMIT),
            ("note", note, NOTE_TEMPLATE_LIMIT),
        ):
            if text is None:
                continue
            texts[name], problem = _render(text, context, name, limit)
            if problem:
                plan.problems.append({"index": index, "field": name, "message": problem})
        try:
            check_note(texts["note"])
        except ValueError as exc:
            plan.problems.append({"index": index, "field": "note", "message": str(exc)})
        if url in seen:
            plan.duplicates += 1
            continue
        seen.add(url)
        plan.targets.append(Target(url, texts["message"], texts["note"], fields.get("leadId")))
    return plan


async def plan_campaign(
    targets: list[dict[str, Any]], *, message: str | None, note: str | None
) -> CampaignPlan:
    """Profile URLs normalized, texts rendered per target, duplicates counted, and every
    problem listed by target index. An unusable template is TemplateInvalid (422)."""
    compiled_message = templates.compile_text(message, "message") if message is not None else None
    compiled_note = templates.compile_text(note, "note") if note is not None else None
    if len(targets) < THREAD_FROM:
        return _plan(targets, compiled_message, compiled_note)
    return await asyncio.to_thread(_plan, targets, compiled_message, compiled_note)
