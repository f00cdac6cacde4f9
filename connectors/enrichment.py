"""The one interface every lead-enrichment provider implements.

A provider takes a list of people (at most its ``batch_size``) and returns one
``PersonMatch`` per person: suggested values for lead fields and the provider's
own data. A problem with one person is that person's ``error``; a problem with
the whole call (credentials rejected, rate limited, network down) is raised as
a ``connectors.errors`` exception so the caller can retry or stop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from connectors.base import ActionContext
from connectors.errors import retry_after_seconds as retry_after_seconds

# Lead fields a provider may suggest values for.
ENRICHABLE_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "linkedin_url",
    "location",
)


class PersonQuery(BaseModel):
    """What we know about one person; ``ref`` is echoed back (the lead id)."""

    ref: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    location: str | None = None


class PersonMatch(BaseModel):
    ref: str
    status: Literal["matched", "no_match", "error"] = "matched"
    fields: dict[str, str] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


EnrichFn = Callable[[ActionContext, list[PersonQuery]], Awaitable[list[PersonMatch]]]


@dataclass(frozen=True)
class Provider:
    """``needs_key``: the call needs an ``api_key`` in ``ctx.credentials``."""

    name: str
    description: str
    batch_size: int
    needs_key: bool
    enrich: EnrichFn


def linkedin_profile_url(value: str | None) -> str | None:
    """``linkedin.com/in/x`` or ``in/x`` in any form → ``https://www.linkedin.com/in/x``."""
    if not value:
        return None
    text = value.strip()
    lowered = text.lower()
    for prefix in ("https://", "http://"):
        if lowered.startswith(prefix):
            text, lowered = text[len(prefix) :], lowered[len(prefix) :]
    host, _, path = text.partition("/")
    host = host.lower()
    if "." not in host:
        host, path = "", text
    if host and host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    path = path.split("?", 1)[0].split("#", 1)[0].strip("/")
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() in ("in", "pub", "company", "school"):
        kind = parts[0].lower()
        slug = parts[1] if kind != "pub" else "/".join(parts[1:])
        return f"https://www.linkedin.com/{kind}/{slug.lower()}"
    return None
