"""Checking a campaign's steps, and rendering its texts for each target.

``compile_campaign`` checks the steps once (names, forward-only jumps, conditions, every
template parsed with the one template engine and its limits) and gives the steps an
enrollment runs. ``render_targets`` renders each target's texts before anything is stored
or started: a target with a missing field (and no fallback), a bad profile URL, a note
over LinkedIn's 300 characters or a ``postUrl`` that is no post refuses the whole request,
listing each ``index``. A large batch renders off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from engine.models.campaigns import (
    ACTION_STEPS,
    CONDITION_NAMES,
    CampaignStep,
    SequenceStep,
    StepTexts,
)
from engine.services import templates
from engine.services.campaigns import MESSAGE_LIMIT, NOTE_TEMPLATE_LIMIT, THREAD_FROM
from engine.services.linkedin import check_note, check_post_url, profile_url
from engine.workflows import templates as engine_templates
from store.errors import InvalidError

TEXT_FIELDS = (("message", MESSAGE_LIMIT), ("note", NOTE_TEMPLATE_LIMIT), ("postUrl", 1000))


class CampaignInvalid(InvalidError):
    """Steps or targets that cannot be used; ``details.errors`` names each."""

    code = "INVALID_CAMPAIGN"

    def __init__(self, problems: list[dict[str, Any]], what: str = "campaign") -> None:
        first = "; ".join(
            f"{p.get('field', '')}: {p['message']}" if p.get("field") else p["message"]
            for p in problems[:3]
        )
        super().__init__(
            f"{len(problems)} problem(s) in the {what}: {first}",
            details={"errors": problems[:100]},
        )


@dataclass
class CompiledCampaign:
    steps: list[SequenceStep]
    texts: list[dict[str, templates.TextTemplate]]  # per step: message / note / postUrl
    names: set[str] = field(default_factory=set)  # target fields the texts read


@dataclass(frozen=True)
class RenderedTarget:
    index: int
    profile_url: str
    slug: str
    lead_id: str | None
    fields: dict[str, Any]
    texts: list[StepTexts]


def _where(i: int, name: str) -> str:
    return f"steps[{i}].{name}"


def _jump(
    i: int, target: str, names: dict[str, int], what: str, problems: list[dict[str, Any]]
) -> int | None:
    index = names.get(target)
    if index is None:
        problems.append({"field": _where(i, what), "message": f"no step is named {target!r}"})
    elif index <= i:
        problems.append({"field": _where(i, what), "message": f"{target!r} is not after this step"})
    return index


def _condition(i: int, text: str, problems: list[dict[str, Any]]) -> None:
    try:
        node = engine_templates.parse(text)
    except engine_templates.TemplateError as exc:
        problems.append({"field": _where(i, "condition"), "message": f"invalid condition: {exc}"})
        return
    for parts in engine_templates.paths(node):
        if parts[0] not in CONDITION_NAMES:
            known = ", ".join(CONDITION_NAMES)
            problems.append(
                {"field": _where(i, "condition"), "message": f"unknown name {parts[0]!r} ({known})"}
            )


def compile_campaign(steps: list[CampaignStep]) -> CompiledCampaign:
    """The steps an enrollment runs; CampaignInvalid lists every problem."""
    problems: list[dict[str, Any]] = []
    if not any(s.type in ACTION_STEPS for s in steps):
        problems.append({"field": "steps", "message": "a campaign needs at least one action"})
    names: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.name is not None:
            if step.name in names:
                problems.append({"field": _where(i, "name"), "message": "is used by another step"})
            names.setdefault(step.name, i)
    compiled: list[SequenceStep] = []
    texts: list[dict[str, templates.TextTemplate]] = []
    for i, step in enumerate(steps):
        out = SequenceStep(type=step.type, name=step.name, seconds=step.seconds())
        if step.type == "branch" and step.goto:
            out.goto = _jump(i, step.goto, names, "goto", problems)
        if step.type == "waitForAcceptance":
            choice = step.onTimeout or "stop"
            if choice in ("stop", "continue"):
                out.on_timeout = choice  # type: ignore[assignment]
            else:
                out.on_timeout, out.goto = "goto", _jump(i, choice, names, "onTimeout", problems)
        if step.condition is not None:
            _condition(i, step.condition, problems)
            out.condition = step.condition
        mine: dict[str, templates.TextTemplate] = {}
        for name, _limit in TEXT_FIELDS:
            text = getattr(step, name)
            if text is None:
                continue
            try:
                mine[name] = templates.compile_text(text, _where(i, name))
            except templates.TemplateInvalid as exc:
                problems.extend((exc.details or {}).get("errors", [{"message": exc.message}]))
        compiled.append(out)
        texts.append(mine)
    if problems:
        raise CampaignInvalid(problems)
    read = templates.names_read(t for step_texts in texts for t in step_texts.values())
    return CompiledCampaign(compiled, texts, read)


def _render_one(
    compiled: CompiledCampaign, index: int, fields: dict[str, Any], problems: list[dict[str, Any]]
) -> RenderedTarget | None:
    before = len(problems)
    try:
        url = profile_url(str(fields.get("profileUrl") or ""))
    except ValueError as exc:
        problems.append({"index": index, "field": "profileUrl", "message": str(exc)})
        return None
    context = templates.field_context(fields, compiled.names)
    rendered: list[StepTexts] = []
    for i, mine in enumerate(compiled.texts):
        values: dict[str, str] = {}
        for name, limit in TEXT_FIELDS:
            text = mine.get(name)
            if text is None:
                continue
            try:
                value, absent = text.render(context, limit=limit)
            except templates.TextTooLong as exc:
                problems.append({"index": index, "field": _where(i, name), "message": str(exc)})
                continue
            if absent:
                missing = ", ".join(dict.fromkeys(absent))
                problems.append(
                    {"index": index, "field": _where(i, name), "message": f"no value for {missing}"}
                )
                continue
            try:
                value = check_post_url(value) if name == "postUrl" else value
                check_note(value if name == "note" else None)
            except ValueError as exc:
                problems.append({"index": index, "field": _where(i, name), "message": str(exc)})
                continue
            values[name] = value
        post_url = values.get("postUrl")
        rendered.append(
            StepTexts(message=values.get("message"), note=values.get("note"), post_url=post_url)
        )
    if len(problems) > before:
        return None
    lead_id = fields.get("leadId")
    slug = url.rsplit("/", 1)[1].lower()
    return RenderedTarget(
        index, url, slug, str(lead_id) if lead_id else None, _stored_fields(fields), rendered
    )


def _stored_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """What a target keeps for its conditions and for rendering later (bounded)."""
    kept: dict[str, Any] = {}
    for key, value in list(fields.items())[:100]:
        if isinstance(value, str | int | float | bool) or value is None:
            kept[str(key)[:100]] = value[:2000] if isinstance(value, str) else value
    return kept


def _render_all(
    compiled: CompiledCampaign, targets: list[dict[str, Any]]
) -> tuple[list[RenderedTarget], int, list[dict[str, Any]]]:
    problems: list[dict[str, Any]] = []
    rendered: list[RenderedTarget] = []
    seen: set[str] = set()
    duplicates = 0
    for index, fields in enumerate(targets):
        target = _render_one(compiled, index, fields, problems)
        if target is None:
            continue
        if target.slug in seen:
            duplicates += 1
            continue
        seen.add(target.slug)
        rendered.append(target)
    return rendered, duplicates, problems


async def render_targets(
    compiled: CompiledCampaign, targets: list[dict[str, Any]]
) -> tuple[list[RenderedTarget], int]:
    """Every target rendered (repeats of a member counted, not kept); CampaignInvalid lists
    each target's problems, and then nothing is kept."""
    if len(targets) < THREAD_FROM:
        rendered, duplicates, problems = _render_all(compiled, targets)
    else:
        rendered, duplicates, problems = await asyncio.to_thread(_render_all, compiled, targets)
    if problems:
        raise CampaignInvalid(problems, "targets")
    return rendered, duplicates


def render_stored(compiled: CompiledCampaign, fields: dict[str, Any]) -> list[StepTexts] | None:
    """A stored target's texts (None if they no longer render: the campaign changed)."""
    problems: list[dict[str, Any]] = []
    target = _render_one(compiled, 0, fields, problems)
    return target.texts if target else None
