"""People Data Labs API v5: Bulk Person Enrichment, as an enrichment provider.

Auth: the API key in the ``X-Api-Key`` header. Base URL
``https://api.peopledatalabs.com/v5`` is a setting. ``POST /person/bulk`` takes
``{"requests": [{"params": {...}, "metadata": {...}}]}`` (1-100 requests) and
answers a JSON array, one object per request in order, each with ``status``
(200 match, 404 none), ``likelihood``, ``data`` (the person record) or ``error``,
and our ``metadata`` echoed back. Whole-call errors are
``{"status", "error": {"type", "message"}}``: 401 bad key, 402 out of credits,
400 invalid request, 429 rate limited (``Retry-After`` or ``x-ratelimit-reset``,
a UTC timestamp, says when to try again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field

from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.enrichment import (
    PersonMatch,
    PersonQuery,
    Provider,
    linkedin_profile_url,
)
from connectors.errors import (
    AuthError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://api.peopledatalabs.com/v5"
MAX_BULK = 100
KEPT = (
    "id",
    "full_name",
    "job_title",
    "job_title_role",
    "job_title_levels",
    "job_company_name",
    "job_company_website",
    "job_company_industry",
    "industry",
    "linkedin_url",
    "location_name",
    "location_country",
    "mobile_phone",
    "work_email",
)


def reset_seconds(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``Retry-After``, else from ``x-ratelimit-reset`` (ISO or epoch)."""
    after = retry_after_seconds(headers.get("retry-after"))
    if after is not None:
        return after
    reset = headers.get("x-ratelimit-reset")
    if not reset:
        return None
    try:
        when = datetime.fromtimestamp(float(reset), UTC)
    except ValueError:
        try:
            when = datetime.fromisoformat(reset.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"].get("type") or fallback)
    return fallback


def params_for(person: PersonQuery) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if person.email:
        params["email"] = person.email
    if person.first_name:
        params["first_name"] = person.first_name
    if person.last_name:
        params["last_name"] = person.last_name
    if person.company:
        params["company"] = person.company
    if person.linkedin_url:
        params["profile"] = person.linkedin_url
    if person.phone:
        params["phone"] = person.phone
    return params


def map_person(data: dict[str, Any]) -> dict[str, str]:
    phones = data.get("phone_numbers") or []
    candidates = {
        "first_name": data.get("first_name"),
        "last_name": data.get("last_name"),
        "job_title": data.get("job_title"),
        "company": data.get("job_company_name"),
        "linkedin_url": linkedin_profile_url(data.get("linkedin_url")),
        "location": data.get("location_name"),
        "phone": data.get("mobile_phone") or (phones[0] if phones else None),
    }
    return {k: str(v) for k, v in candidates.items() if v and isinstance(v, str | int)}


async def bulk(ctx: ActionContext, people: list[PersonQuery]) -> list[Any]:
    key = ctx.credentials.get("api_key")
    if not key:
        raise AuthError("People Data Labs needs an API key (credential field api_key)")
    base = str(ctx.base_urls.get("pdl") or DEFAULT_BASE_URL).rstrip("/")
    payload = {
        "titlecase": True,
        "requests": [{"params": params_for(p), "metadata": {"ref": p.ref}} for p in people],
    }
    if ctx.throttle is not None:
        await ctx.throttle()
    try:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{base}/person/bulk",
                json=payload,
                headers={"X-Api-Key": str(key), "Accept": "application/json"},
                timeout=ctx.timeout_seconds,
            )
    except httpx.TimeoutException as exc:
        raise TransientError("People Data Labs did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"People Data Labs request failed: {type(exc).__name__}") from exc
    ctx.heartbeat()
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if status == 401 or status == 403:
        raise AuthError(_message(body, "People Data Labs rejected the API key"), status_code=status)
    if status == 402:
        raise AuthError(_message(body, "People Data Labs: no credits left"), status_code=402)
    if status == 429:
        raise RateLimitedError(
            _message(body, "People Data Labs rate limit reached"),
            retry_after=reset_seconds(response.headers),
        )
    if status >= 500:
        raise TransientError(f"People Data Labs answered {status}", status_code=status)
    if status != 200 or not isinstance(body, list):
        raise InvalidInputError(
            _message(body, f"People Data Labs answered {status}"), status_code=status
        )
    return body


async def enrich(ctx: ActionContext, people: list[PersonQuery]) -> list[PersonMatch]:
    matches: list[PersonMatch] = []
    for start in range(0, len(people), MAX_BULK):
        group = people[start : start + MAX_BULK]
        answers = await bulk(ctx, group)
        by_ref = {
            str((a.get("metadata") or {}).get("ref")): a for a in answers if isinstance(a, dict)
        }
        for index, person in enumerate(group):
            answer = by_ref.get(person.ref)
            if answer is None and index < len(answers) and isinstance(answers[index], dict):
                answer = answers[index]
            matches.append(_match(person, answer))
    return matches


def _match(person: PersonQuery, answer: dict[str, Any] | None) -> PersonMatch:
    if answer is None:
        return PersonMatch(ref=person.ref, status="error", error="pdl: no answer for this lead")
    status = answer.get("status")
    data = answer.get("data")
    if status == 200 and isinstance(data, dict):
        kept = {k: data.get(k) for k in KEPT if data.get(k) is not None}
        kept["likelihood"] = answer.get("likelihood")
        return PersonMatch(ref=person.ref, status="matched", fields=map_person(data), data=kept)
    if status == 404:
        return PersonMatch(ref=person.ref, status="no_match")
    return PersonMatch(
        ref=person.ref, status="error", error="pdl: " + _message(answer, f"status {status}")
    )


PROVIDER = Provider(
    name="pdl",
    description="People Data Labs Bulk Person Enrichment",
    batch_size=MAX_BULK,
    needs_key=True,
    enrich=enrich,
)


class PersonInput(BaseModel):
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    linkedin_url: str | None = None
    phone: str | None = None


class PersonOutput(BaseModel):
    status: str
    fields: dict[str, str]
    data: dict[str, Any]


async def enrich_person(ctx: ActionContext, data: PersonInput) -> PersonOutput:
    [match] = await enrich(ctx, [PersonQuery(ref="1", **data.model_dump())])
    if match.status == "error":
        raise InvalidInputError(match.error or "People Data Labs refused the request")
    return PersonOutput(status=match.status, fields=match.fields, data=match.data)


CONNECTOR = Connector(
    type="pdl",
    name="People Data Labs",
    description="Person enrichment from People Data Labs",
    categories=("enrichment", "sales", "lead generation", "people data"),
    credential_type="api_key",
    credential_fields=(CredentialField("api_key", description="People Data Labs API key"),),
    actions={
        "enrich_person": Action(
            "enrich_person",
            "Enrich one person",
            PersonInput,
            PersonOutput,
            enrich_person,
            side_effecting=False,
        ),
    },
)
