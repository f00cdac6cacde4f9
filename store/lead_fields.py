"""Validating and normalizing lead fields, shared by the API and the import activity.

Email addresses are checked with ``email-validator`` (syntax only: no DNS at
write time) and phone numbers with ``phonenumbers``. Every problem is a
``LeadFieldError`` naming the field and a code, so the API can answer 400/422
and an import can record the row's error without stopping.
"""

from __future__ import annotations

import json
import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from store.errors import InvalidError
from store.leads import LEAD_STATUSES

REQUIRED = ("first_name", "last_name", "email")
TEXT_FIELDS: dict[str, int] = {
    "first_name": 200,
    "last_name": 200,
    "company": 300,
    "job_title": 300,
    "location": 300,
    "linkedin_url": 500,
    "phone": 64,
    "notes": 20_000,
}
MAX_TAGS = 50
MAX_TAG_LENGTH = 100
MAX_CUSTOM_FIELDS_BYTES = 16_384


class LeadFieldError(InvalidError, ValueError):
    """One invalid field. ``missing`` problems are 400s; the others 422s."""

    def __init__(self, field: str, code: str, message: str, *, missing: bool = False) -> None:
        super().__init__(message, code=code, field=field)
        self.missing = missing


def normalize_email(value: Any) -> tuple[str, str]:
    """(stored form, uniqueness key). The key is the whole address lower-cased."""
    if not isinstance(value, str) or not value.strip():
        raise LeadFieldError("email", "MISSING_FIELDS", "email is required", missing=True)
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise LeadFieldError("email", "INVALID_EMAIL", f"Invalid email address: {exc}") from exc
    if len(checked.normalized) > 320:
        raise LeadFieldError("email", "INVALID_EMAIL", "Invalid email address: too long")
    return checked.normalized, checked.normalized.lower()


def normalize_phone(value: Any, region: str) -> str | None:
    """Keep the number as typed (enrichment offers E.164) once it parses as a possible number."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise LeadFieldError("phone", "INVALID_PHONE", "phone must be a string")
    text = value.strip()
    if not text:
        return None
    if len(text) > TEXT_FIELDS["phone"]:
        raise LeadFieldError("phone", "INVALID_PHONE", "Invalid phone number: too long")
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException as exc:
        raise LeadFieldError("phone", "INVALID_PHONE", f"Invalid phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(number):
        raise LeadFieldError(
            "phone", "INVALID_PHONE", "Invalid phone number: not a possible number"
        )
    return text


def normalize_text(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise LeadFieldError(field, "VALIDATION_ERROR", f"{field} must be a string")
    text = str(value).strip()
    if len(text) > TEXT_FIELDS.get(field, 300):
        raise LeadFieldError(
            field, "VALIDATION_ERROR", f"{field} is longer than {TEXT_FIELDS.get(field, 300)}"
        )
    return text or None


def normalize_required(field: str, value: Any) -> str:
    text = normalize_text(field, value)
    if not text:
        raise LeadFieldError(field, "MISSING_FIELDS", f"{field} is required", missing=True)
    return text


def normalize_status(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in LEAD_STATUSES:
        raise LeadFieldError(
            "status", "INVALID_STATUS", "status must be one of " + ", ".join(LEAD_STATUSES)
        )
    return value.strip().lower()


def normalize_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[;|,]", value)
    if not isinstance(value, list):
        raise LeadFieldError("tags", "VALIDATION_ERROR", "tags must be a list of strings")
    tags: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise LeadFieldError("tags", "VALIDATION_ERROR", "tags must be a list of strings")
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise LeadFieldError(
                "tags", "VALIDATION_ERROR", f"a tag is longer than {MAX_TAG_LENGTH}"
            )
        if tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise LeadFieldError("tags", "VALIDATION_ERROR", f"at most {MAX_TAGS} tags")
    return tags


def normalize_custom_fields(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LeadFieldError("custom_fields", "VALIDATION_ERROR", "custom_fields must be an object")
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise LeadFieldError(
            "custom_fields", "VALIDATION_ERROR", "custom_fields must be JSON"
        ) from exc
    if size > MAX_CUSTOM_FIELDS_BYTES:
        raise LeadFieldError(
            "custom_fields",
            "VALIDATION_ERROR",
            f"custom_fields is larger than {MAX_CUSTOM_FIELDS_BYTES} bytes",
        )
    return dict(value)


SEARCH_TEXT_MAX = 600  # keeps the (user, search_text, id) index entry under PostgreSQL's limit


def search_text(values: dict[str, Any]) -> str:
    parts = (values.get(k) for k in ("first_name", "last_name", "email", "company"))
    return " ".join(p for p in parts if p).lower()[:SEARCH_TEXT_MAX]


def clean_fields(raw: dict[str, Any], *, region: str, partial: bool) -> dict[str, Any]:
    """Validated column values from API-style input (``title`` is ``job_title``).

    With ``partial`` only the keys present are returned (updates); an explicit null
    clears an optional field and is refused for a required one.
    """
    data = dict(raw)
    if "title" in data and "job_title" not in data:
        data["job_title"] = data["title"]
    data.pop("title", None)
    out: dict[str, Any] = {}
    if not partial:
        missing = [f for f in REQUIRED if not _present(data.get(f))]
        if missing:
            raise LeadFieldError(
                ",".join(missing),
                "MISSING_FIELDS",
                "Missing required fields: " + ", ".join(missing),
                missing=True,
            )
    for field in ("first_name", "last_name"):
        if field in data:
            out[field] = normalize_required(field, data[field])
    if "email" in data:
        out["email"], out["email_key"] = normalize_email(data["email"])
    for field in ("company", "linkedin_url", "job_title", "location", "notes"):
        if field in data:
            out[field] = normalize_text(field, data[field])
    if "phone" in data:
        out["phone"] = normalize_phone(data["phone"], region)
    if "tags" in data:
        out["tags"] = normalize_tags(data["tags"])
    if "custom_fields" in data:
        out["custom_fields"] = normalize_custom_fields(data["custom_fields"])
    if "status" in data and (data["status"] is not None or partial):
        out["status"] = normalize_status(data["status"])
    if not partial:
        out.setdefault("tags", [])
        out.setdefault("custom_fields", {})
        out.setdefault("status", "new")
    return out


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())
