"""One-time states of the sign-in flows (LinkedIn OAuth, Unipile's notify link, app
connections): the hash they are stored under, and the check that one is still usable."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol, TypeVar

from store.db import as_utc, utcnow
from store.errors import StateError


class OneTimeState(Protocol):
    used_at: datetime | None
    expires_at: datetime


S = TypeVar("S", bound=OneTimeState)


def state_hash(state: str) -> str:
    """States are stored by their SHA-256, never as issued."""
    return hashlib.sha256(state.encode()).hexdigest()


def usable(row: S | None, now: datetime | None = None) -> S:
    """``row`` if it exists, is unused and has not expired; else ``StateError``."""
    if row is None:
        raise StateError("unknown state")
    if row.used_at is not None:
        raise StateError("this state was already used")
    if as_utc(row.expires_at) <= (now or utcnow()):  # type: ignore[operator]
        raise StateError("this state has expired")
    return row
