"""The providers on their own: local hints, and Hunter/PDL against their wire-format fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from connectors import hunter, pdl
from connectors.base import ActionContext
from connectors.enrichment import PersonQuery, linkedin_profile_url, retry_after_seconds
from connectors.errors import AuthError, RateLimitedError
from connectors.local_enrichment import company_from_domain, email_hints, enrich_one, proper_case
from tests.leads.fake_providers import FakeHunter, FakePDL, hunter_person, pdl_person


def test_local_hints() -> None:
    match = enrich_one(
        PersonQuery(
            ref="1",
            email="JANE.doe@acme-robotics.co.uk",
            first_name="JANE",
            last_name="o'brien-mcdonald",
            phone="020 7946 0958",
            linkedin_url="http://uk.linkedin.com/in/JaneDoe/?trk=x",
        ),
        "GB",
    )
    assert match.fields == {
        "company": "Acme Robotics",
        "first_name": "Jane",
        "last_name": "O'Brien-McDonald",
        "phone": "+442079460958",
        "linkedin_url": "https://www.linkedin.com/in/janedoe",
    }
    assert match.data["phone"] == {
        "e164": "+442079460958",
        "valid": True,
        "country": "GB",
        "type": "fixed_line",
    }
    assert proper_case("McKenzie") == "McKenzie", "mixed case is left as typed"
    assert proper_case("LUDWIG VAN BEETHOVEN") == "Ludwig van Beethoven"
    assert company_from_domain("ibm.com") == "IBM"
    assert company_from_domain("gmail.com") is None
    assert email_hints("info@gmial.com")["suggestedEmail"] == "info@gmail.com"
    hints = email_hints("x@mailinator.com")
    assert hints["disposable"] is True and hints["deliverability"] == "risky"
    assert email_hints("bad@")["deliverability"] == "undeliverable"
    assert email_hints("a@gmail.com")["freeMail"] is True
    assert linkedin_profile_url("in/abc") == "https://www.linkedin.com/in/abc"
    assert linkedin_profile_url("https://evil.example/in/abc") is None
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None


def ctx(base: str, name: str, key: str | None, **config: Any) -> ActionContext:
    return ActionContext(
        credentials={"api_key": key} if key else {},
        base_urls={name: base},
        config=config,
        timeout_seconds=10,
    )


async def test_hunter_wire_format(fake_hunter: FakeHunter) -> None:
    base = fake_hunter.base_url + "/v2"
    fake_hunter.people["a@hooli.com"] = hunter_person("Gavin", "Belson")
    fake_hunter.pending_once.add("a@hooli.com")
    people = [
        PersonQuery(ref="1", email="a@hooli.com"),
        PersonQuery(ref="2", email="b@x.io"),
        PersonQuery(ref="3"),
    ]
    found = await hunter.enrich(
        ctx(base, "hunter", fake_hunter.key, verify_pending_delay=0), people
    )
    assert [m.status for m in found] == ["matched", "no_match", "no_match"]
    assert found[0].fields["company"] == "Hooli" and found[0].data["email"]["score"] == 91
    verifier_calls = [r for r in fake_hunter.requests if r.path.endswith("email-verifier")]
    assert len(verifier_calls) == 3, "the 202 (still verifying) was asked again"

    with pytest.raises(AuthError):
        await hunter.enrich(ctx(base, "hunter", "wrong"), people[:1])
    with pytest.raises(AuthError):
        await hunter.enrich(ctx(base, "hunter", None), people[:1])
    fake_hunter.rate_limit_next = 1
    fake_hunter.retry_after = "12"
    with pytest.raises(RateLimitedError) as caught:
        await hunter.enrich(ctx(base, "hunter", fake_hunter.key), people[1:2])
    assert caught.value.retry_after == 12.0


async def test_hunter_paces_requests(fake_hunter: FakeHunter) -> None:
    pacer = hunter.Pacer(20.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(5):
        await pacer.wait()
    assert loop.time() - started >= 0.19


async def test_pdl_wire_format(fake_pdl: FakePDL) -> None:
    base = fake_pdl.base_url + "/v5"
    fake_pdl.people["s@pp.com"] = pdl_person("s@pp.com", "Sean", "Thorne")
    people = [PersonQuery(ref=str(i), email=f"p{i}@x.io") for i in range(150)]
    people[120] = PersonQuery(ref="120", email="s@pp.com", linkedin_url="linkedin.com/in/st")
    found = await pdl.enrich(ctx(base, "pdl", fake_pdl.key), people)
    assert len(fake_pdl.calls) == 2, "at most 100 per bulk request"
    assert fake_pdl.calls[1][20]["params"] == {"email": "s@pp.com", "profile": "linkedin.com/in/st"}
    assert fake_pdl.calls[1][20]["metadata"] == {"ref": "120"}
    assert found[120].status == "matched" and found[120].fields["job_title"] == "Head Of Growth"
    assert sum(m.status == "no_match" for m in found) == 149

    with pytest.raises(AuthError):
        await pdl.enrich(ctx(base, "pdl", "nope"), people[:1])
    fake_pdl.rate_limit_next = 1
    with pytest.raises(RateLimitedError) as caught:
        await pdl.enrich(ctx(base, "pdl", fake_pdl.key), people[:1])
    assert caught.value.retry_after is not None and caught.value.retry_after <= 1.5


def test_pdl_reset_header_forms() -> None:
    assert pdl.reset_seconds(httpx.Headers({"retry-after": "3"})) == 3.0
    assert pdl.reset_seconds(httpx.Headers({"x-ratelimit-reset": "1516124358"})) == 0.0
    assert pdl.reset_seconds(httpx.Headers({})) is None
