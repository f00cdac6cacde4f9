"""Local servers speaking Hunter's API v2 and People Data Labs' API v5 wire formats.

Hunter: ``GET /v2/email-verifier`` and ``GET /v2/combined/find`` with the key in
``X-API-KEY`` (or ``?api_key=``), errors as ``{"errors": [{"id", "code", "details"}]}``,
429 with ``Retry-After`` when told to. PDL: ``POST /v5/person/bulk`` with
``X-Api-Key``, a JSON array answer (one object per request, metadata echoed),
errors as ``{"status", "error": {"type", "message"}}``, 429 with ``x-ratelimit-reset``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record


def hunter_error(status: int, ident: str, details: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"id": ident, "code": status, "details": details}]}, status_code=status
    )


@dataclass
class FakeHunter:
    key: str = "hunter-key"
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    verifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_once: set[str] = field(default_factory=set)
    rate_limit_next: int = 0
    retry_after: str = "1"
    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""

    def reset(self) -> None:
        self.people.clear()
        self.verifications.clear()
        self.pending_once.clear()
        self.rate_limit_next = 0
        self.requests.clear()

    def _check(self, rec: Recorded) -> Response | None:
        key = rec.headers.get("x-api-key") or rec.query.get("api_key")
        if key != self.key:
            return hunter_error(401, "authentication_failed", "No user found for the API key")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            response = hunter_error(429, "too_many_requests", "You have reached your usage limit")
            response.headers["Retry-After"] = self.retry_after
            return response
        if not rec.query.get("email"):
            return hunter_error(400, "wrong_params", "You are missing the email parameter")
        return None

    def app(self) -> Starlette:
        async def verifier(request: Request) -> Response:
            rec = await record(request)
            self.requests.append(rec)
            refused = self._check(rec)
            if refused is not None:
                return refused
            email = rec.query["email"]
            if email in self.pending_once:
                self.pending_once.discard(email)
                return JSONResponse({"data": None}, status_code=202)
            data = {
                "status": "valid",
                "result": "deliverable",
                "score": 91,
                "email": email,
                "regexp": True,
                "gibberish": False,
                "disposable": False,
                "webmail": False,
                "mx_records": True,
                "smtp_server": True,
                "smtp_check": True,
                "accept_all": False,
                "block": False,
                "sources": [],
                **self.verifications.get(email, {}),
            }
            return JSONResponse({"data": data, "meta": {"params": {"email": email}}})

        async def combined(request: Request) -> Response:
            rec = await record(request)
            self.requests.append(rec)
            refused = self._check(rec)
            if refused is not None:
                return refused
            email = rec.query["email"]
            if email not in self.people:
                return hunter_error(404, "not_found", "No person or company found")
            return JSONResponse({"data": self.people[email], "meta": {"email": email}})

        return Starlette(
            routes=[
                Route("/v2/email-verifier", verifier),
                Route("/v2/combined/find", combined),
            ]
        )


def pdl_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "error": {"type": kind, "message": message}}, status_code=status
    )


@dataclass
class FakePDL:
    key: str = "pdl-key"
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limit_next: int = 0
    delay: float = 0.0
    # When set, calls after the first ``open_calls`` wait for ``gate``.
    open_calls: int | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    blocked: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[list[dict[str, Any]]] = field(default_factory=list)
    base_url: str = ""

    def reset(self) -> None:
        self.people.clear()
        self.rate_limit_next = 0
        self.delay = 0.0
        self.open_calls = None
        self.gate = asyncio.Event()
        self.blocked = asyncio.Event()
        self.calls.clear()

    def requested_emails(self) -> list[str]:
        return [r["params"].get("email") for call in self.calls for r in call]

    def app(self) -> Starlette:
        async def bulk(request: Request) -> Response:
            rec = await record(request)
            if rec.headers.get("x-api-key") != self.key:
                return pdl_error(401, "authentication_error", "Invalid API key")
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                response = pdl_error(429, "rate_limit_error", "Rate limit reached")
                reset = datetime.now(UTC) + timedelta(seconds=1)
                response.headers["x-ratelimit-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
                return response
            requests = (rec.json or {}).get("requests")
            if not isinstance(requests, list) or not 1 <= len(requests) <= 100:
                return pdl_error(400, "invalid_request_error", "requests must hold 1-100 items")
            if self.open_calls is not None and len(self.calls) >= self.open_calls:
                self.blocked.set()
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            self.calls.append(requests)
            answers = []
            for item in requests:
                email = (item.get("params") or {}).get("email")
                person = self.people.get(email or "")
                if person is None:
                    answers.append(
                        {
                            "status": 404,
                            "metadata": item.get("metadata"),
                            "error": {
                                "type": "not_found",
                                "message": "No records were found matching your request",
                            },
                        }
                    )
                else:
                    answers.append(
                        {
                            "status": 200,
                            "likelihood": 9,
                            "data": person,
                            "metadata": item.get("metadata"),
                        }
                    )
            return JSONResponse(answers)

        return Starlette(routes=[Route("/v5/person/bulk", bulk, methods=["POST"])])


def pdl_person(email: str, first: str, last: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"pdl-{email}",
        "full_name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "job_title": "Head Of Growth",
        "job_company_name": "Pied Piper",
        "job_company_website": "piedpiper.com",
        "linkedin_url": f"linkedin.com/in/{first}{last}",
        "location_name": "San Francisco, California, United States",
        "mobile_phone": "+14155550100",
        "work_email": email,
        **extra,
    }


def hunter_person(first: str, last: str) -> dict[str, Any]:
    return {
        "person": {
            "name": {"fullName": f"{first} {last}", "givenName": first, "familyName": last},
            "employment": {
                "name": "Hooli",
                "title": "VP Engineering",
                "role": "engineering",
                "seniority": "executive",
                "domain": "hooli.com",
            },
            "geo": {"city": "Palo Alto", "state": "California", "country": "United States"},
            "linkedin": {"handle": f"in/{first.lower()}-{last.lower()}"},
        },
        "company": {"name": "Hooli", "domain": "hooli.com", "category": {"industry": "Internet"}},
    }
