"""The built-in ``local`` enrichment provider: no network, no key, embedded default.

It reads what a lead already holds and derives hints from it: email syntax and
deliverability signals (free-mail, disposable, role account, common domain
typos), a company name from a company email domain, proper name casing, the
phone number in E.164 with its country and type, and the canonical LinkedIn
profile URL. It uses ``email-validator`` (syntax only) and ``phonenumbers``.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from connectors.base import ActionContext
from connectors.enrichment import PersonMatch, PersonQuery, Provider, linkedin_profile_url

FREE_MAIL = frozenset(
    "gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr ymail.com hotmail.com "
    "hotmail.co.uk hotmail.fr outlook.com live.com msn.com aol.com icloud.com me.com mac.com "
    "proton.me protonmail.com pm.me gmx.com gmx.de gmx.net mail.com yandex.com yandex.ru "
    "zoho.com fastmail.com hey.com qq.com 163.com 126.com web.de orange.fr free.fr "
    "libero.it mail.ru comcast.net verizon.net att.net".split()
)
DISPOSABLE = frozenset(
    "mailinator.com guerrillamail.com guerrillamail.net 10minutemail.com tempmail.com "
    "temp-mail.org yopmail.com trashmail.com sharklasers.com getnada.com dispostable.com "
    "throwawaymail.com maildrop.cc mailnesia.com mintemail.com fakeinbox.com".split()
)
ROLE_ACCOUNTS = frozenset(
    "info sales support admin contact hello office team marketing billing noreply no-reply "
    "careers jobs help hr accounts enquiries inquiries press webmaster postmaster".split()
)
DOMAIN_TYPOS = {
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmail.co": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "yaho.com": "yahoo.com",
    "yahooo.com": "yahoo.com",
    "outlok.com": "outlook.com",
    "iclod.com": "icloud.com",
}
# Second-level public suffixes common enough to matter when naming a company.
TWO_PART_SUFFIXES = frozenset(
    "co.uk org.uk ac.uk gov.uk com.au net.au org.au co.jp co.nz com.br co.in co.za com.mx "
    "com.sg com.cn com.hk com.tr co.kr com.ar co.il".split()
)
PARTICLES = frozenset("van von der den de da di du la le del della dos das ten ter bin al".split())
_MC = re.compile(r"^(mc|mac)([a-z]{3,})$")
_PHONE_TYPES = {v: k.lower() for k, v in vars(phonenumbers.PhoneNumberType).items() if k.isupper()}


def company_from_domain(domain: str) -> str | None:
    """``acme-robotics.co.uk`` → ``Acme Robotics``; None for free-mail and disposable domains."""
    domain = domain.lower().strip(".")
    if domain in FREE_MAIL or domain in DISPOSABLE or domain in DOMAIN_TYPOS:
        return None
    labels = domain.split(".")
    if len(labels) < 2:
        return None
    suffix_len = 2 if ".".join(labels[-2:]) in TWO_PART_SUFFIXES and len(labels) >= 3 else 1
    name = labels[-suffix_len - 1]
    if not name or name in ("www", "mail"):
        return None
    words = [w for w in re.split(r"[-_]", name) if w]
    if len(words) == 1 and len(words[0]) <= 3:
        return words[0].upper()
    return " ".join(w.capitalize() for w in words)


def _case_piece(piece: str) -> str:
    match = _MC.match(piece)
    if match and match.group(1) == "mc":
        return "Mc" + match.group(2).capitalize()
    return piece.capitalize()


def _case_word(word: str, first: bool) -> str:
    if not first and word in PARTICLES:
        return word
    return "-".join(
        "'".join(_case_piece(piece) for piece in part.split("'")) for part in word.split("-")
    )


def proper_case(name: str) -> str:
    """Fix names typed all-lower or all-upper; leave mixed-case names as the user wrote them."""
    text = " ".join(name.split())
    if not text or (text != text.lower() and text != text.upper()):
        return text
    words = text.lower().split(" ")
    return " ".join(_case_word(w, i == 0) for i, w in enumerate(words))


def email_hints(email: str) -> dict[str, object]:
    hints: dict[str, object] = {"address": email}
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        hints.update(valid=False, deliverability="undeliverable", reasons=[str(exc)])
        return hints
    local, domain = checked.local_part.lower(), checked.domain.lower()
    reasons: list[str] = []
    free = domain in FREE_MAIL
    disposable = domain in DISPOSABLE
    role = local.split("+", 1)[0] in ROLE_ACCOUNTS
    if disposable:
        reasons.append("disposable domain")
    if role:
        reasons.append("role account")
    typo = DOMAIN_TYPOS.get(domain)
    if typo:
        reasons.append(f"domain looks like a typo of {typo}")
        hints["suggestedEmail"] = f"{checked.local_part}@{typo}"
    hints.update(
        valid=True,
        normalized=checked.normalized,
        domain=domain,
        freeMail=free,
        disposable=disposable,
        role=role,
        deliverability="risky" if reasons else "likely",
        reasons=reasons,
    )
    return hints


def phone_hints(phone: str, region: str) -> dict[str, object] | None:
    try:
        number = phonenumbers.parse(phone, region or None)
    except phonenumbers.NumberParseException:
        return {"valid": False}
    if not phonenumbers.is_possible_number(number):
        return {"valid": False}
    return {
        "e164": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        "valid": phonenumbers.is_valid_number(number),
        "country": phonenumbers.region_code_for_number(number),
        "type": _PHONE_TYPES.get(phonenumbers.number_type(number), "unknown"),
    }


def enrich_one(person: PersonQuery, region: str) -> PersonMatch:
    fields: dict[str, str] = {}
    data: dict[str, object] = {}
    if person.email:
        hints = email_hints(person.email)
        data["email"] = hints
        domain = hints.get("domain")
        if isinstance(domain, str):
            company = company_from_domain(domain)
            if company:
                data["companyFromDomain"] = company
                fields["company"] = company
    for field in ("first_name", "last_name"):
        value = getattr(person, field)
        if value:
            cased = proper_case(value)
            if cased != value:
                fields[field] = cased
    if person.phone:
        hints_phone = phone_hints(person.phone, region)
        data["phone"] = hints_phone
        if hints_phone and isinstance(hints_phone.get("e164"), str):
            fields["phone"] = str(hints_phone["e164"])
    if person.linkedin_url:
        canonical = linkedin_profile_url(person.linkedin_url)
        data["linkedin"] = {"canonical": canonical, "valid": canonical is not None}
        if canonical:
            fields["linkedin_url"] = canonical
    return PersonMatch(ref=person.ref, status="matched", fields=fields, data=data)


async def enrich(ctx: ActionContext, people: list[PersonQuery]) -> list[PersonMatch]:
    region = str(ctx.config.get("default_phone_region") or "US")
    return [enrich_one(p, region) for p in people]


PROVIDER = Provider(
    name="local",
    description="Built-in hints from the lead's own data; no network, no key",
    batch_size=100,
    needs_key=False,
    enrich=enrich,
)
