"""Hunter (hunter.io) API v2: Email Verifier and Combined Enrichment, as an enrichment provider.

Auth: the account's API key in the ``X-API-KEY`` header (Hunter also takes
``?api_key=``; we keep keys out of URLs). Base URL ``https://api.hunter.io/v2``
is a setting. Endpoints: ``GET /email-verifier?email=`` (``data.status`` valid /
invalid / accept_all / webmail / disposable / unknown, ``score``; answers 202
while a verification is still running) and ``GET /combined/find?email=``
(``data.person`` and ``data.company``; 404 when nobody matches). Errors come as
``{"errors": [{"id", "code", "details"}]}``. Limits: 10 requests/s on the
verifier and 15/s elsewhere; Hunter answers 403 when that rate is exceeded and
429 when the plan's quota is used up. Both raise ``RateLimitedError`` with the
``Retry-After`` it sent; requests are also paced client-side.
"""

from __future__ import annotations

import asyncio
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
    ConnectorError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://api.hunter.io/v2"
CONCURRENCY = 5


class Pacer:
    """Spaces request starts at least ``1/per_second`` apart (Hunter's per-second limit)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(loop.time(), self._next) + self.interval


def _details(body: Any) -> str:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("details") or errors[0].get("id") or "")
    return ""


class HunterClient:
    def __init__(self, ctx: ActionContext, http: httpx.AsyncClient) -> None:
        key = ctx.credentials.get("api_key")
        if not key:
            raise AuthError("Hunter needs an API key (credential field api_key)")
        self.ctx = ctx
        self.http = http
        self.key = str(key)
        self.base = str(ctx.base_urls.get("hunter") or DEFAULT_BASE_URL).rstrip("/")
        self.pacer = Pacer(float(ctx.config.get("requests_per_second") or 10.0))

    async def get(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        await (self.ctx.throttle or self.pacer.wait)()
        try:
            response = await self.http.get(
                f"{self.base}/{path}",
                params=params,
                headers={"X-API-KEY": self.key, "Accept": "application/json"},
                timeout=self.ctx.timeout_seconds,
            )
        except httpx.TimeoutException as exc:
            raise TransientError("Hunter did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"Hunter request failed: {type(exc).__name__}") from exc
        self.ctx.heartbeat()
        try:
            body = response.json()
        except ValueError:
            body = {}
        status = response.status_code
        if status == 401:
            raise AuthError(_details(body) or "Hunter rejected the API key", status_code=401)
        if status in (403, 429):
            what = "rate limit reached" if status == 403 else "usage limit reached"
            raise RateLimitedError(
                f"Hunter {what}: {_details(body)}".rstrip(": "),
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
                status_code=status,
            )
        if status >= 500:
            raise TransientError(f"Hunter answered {status}", status_code=status)
        if status == 400 or status == 422:
            raise InvalidInputError(_details(body) or "Hunter refused the request", status_code=400)
        return status, body

    async def verify(self, email: str) -> dict[str, Any]:
        retries = int(self.ctx.config.get("verify_pending_retries", 3))
        delay = float(self.ctx.config.get("verify_pending_delay", 2.0))
        for attempt in range(retries + 1):
            status, body = await self.get("email-verifier", {"email": email})
            if status == 200 and isinstance(body.get("data"), dict):
                return dict(body["data"])
            if status != 202 or attempt == retries:
                break
            await asyncio.sleep(delay)
        return {"status": "unknown", "email": email}

    async def combined(self, email: str) -> dict[str, Any] | None:
        status, body = await self.get("combined/find", {"email": email})
        if status == 200 and isinstance(body.get("data"), dict):
            return dict(body["data"])
        return None


def _location(person: dict[str, Any]) -> str | None:
    if person.get("location"):
        return str(person["location"])
    geo = person.get("geo") or {}
    parts = [geo.get(k) for k in ("city", "state", "country")]
    text = ", ".join(str(p) for p in parts if p)
    return text or None


def map_combined(found: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Suggested lead fields and the stored subset of a Combined Enrichment answer."""
    person = found.get("person") or {}
    company = found.get("company") or {}
    name = person.get("name") or {}
    employment = person.get("employment") or {}
    handle = (person.get("linkedin") or {}).get("handle")
    candidates = {
        "first_name": name.get("givenName"),
        "last_name": name.get("familyName"),
        "job_title": employment.get("title"),
        "company": employment.get("name") or company.get("name"),
        "linkedin_url": linkedin_profile_url(f"linkedin.com/{handle}") if handle else None,
        "location": _location(person),
        "phone": person.get("phone"),
    }
    fields = {k: str(v) for k, v in candidates.items() if v}
    data = {
        "person": {
            "fullName": name.get("fullName"),
            "title": employment.get("title"),
            "role": employment.get("role"),
            "seniority": employment.get("seniority"),
            "location": _location(person),
            "linkedin": handle,
        },
        "company": {
            k: company.get(k)
            for k in ("name", "domain", "category", "metrics", "location")
            if company.get(k) is not None
        },
    }
    return fields, data


async def _one(client: HunterClient, person: PersonQuery) -> PersonMatch:
    if not person.email:
        return PersonMatch(ref=person.ref, status="no_match", error="no email to look up")
    try:
        verified = await client.verify(person.email)
        found = await client.combined(person.email)
    except InvalidInputError as exc:
        return PersonMatch(ref=person.ref, status="error", error=f"hunter: {exc.message}")
    data: dict[str, Any] = {
        "email": {
            k: verified.get(k)
            for k in (
                "status",
                "result",
                "score",
                "disposable",
                "webmail",
                "accept_all",
                "mx_records",
                "smtp_check",
            )
            if k in verified
        }
    }
    if found is None:
        return PersonMatch(ref=person.ref, status="no_match", data=data)
    fields, extra = map_combined(found)
    data.update(extra)
    return PersonMatch(ref=person.ref, status="matched", fields=fields, data=data)


async def enrich(ctx: ActionContext, people: list[PersonQuery]) -> list[PersonMatch]:
    """Verify each email and look the person up; at most ``CONCURRENCY`` requests in flight."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient() as http:
        client = HunterClient(ctx, http)

        async def limited(person: PersonQuery) -> PersonMatch:
            async with gate:
                return await _one(client, person)

        results = await asyncio.gather(*(limited(p) for p in people), return_exceptions=True)
    for item in results:
        if isinstance(item, BaseException):
            raise item
    return [r for r in results if isinstance(r, PersonMatch)]


PROVIDER = Provider(
    name="hunter",
    description="Hunter Email Verifier and Combined Enrichment",
    batch_size=25,
    needs_key=True,
    enrich=enrich,
)


class EmailInput(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class HunterOutput(BaseModel):
    data: dict[str, Any]


async def verify_email(ctx: ActionContext, data: EmailInput) -> HunterOutput:
    async with httpx.AsyncClient() as http:
        return HunterOutput(data=await HunterClient(ctx, http).verify(data.email))


async def find_person(ctx: ActionContext, data: EmailInput) -> HunterOutput:
    async with httpx.AsyncClient() as http:
        return HunterOutput(data=await HunterClient(ctx, http).combined(data.email) or {})


async def account(ctx: ActionContext) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        _status, body = await HunterClient(ctx, http).get("account", {})
    if not isinstance(body, dict):
        raise ConnectorError("Hunter answered without a body")
    return dict(body.get("data") or {})


CONNECTOR = Connector(
    type="hunter",
    name="Hunter",
    description="Email verification and person/company enrichment",
    categories=("enrichment", "sales", "email verification", "lead generation"),
    credential_type="api_key",
    credential_fields=(CredentialField("api_key", description="Hunter API key"),),
    actions={
        "verify_email": Action(
            "verify_email",
            "Verify an email address",
            EmailInput,
            HunterOutput,
            verify_email,
            side_effecting=False,
        ),
        "find_person": Action(
            "find_person",
            "Person and company behind an email",
            EmailInput,
            HunterOutput,
            find_person,
            side_effecting=False,
        ),
    },
    test=account,
)
