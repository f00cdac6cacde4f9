"""Binding an OAuth state to the browser that starts the flow (the user-integrations and
app-integrations APIs).

The ``authUrl`` the API returns is a Taskyard start URL. Opening it stores the SHA-256 of
a random nonce with the state (once: a state opened in one browser cannot be started in
another), sets the nonce in an HttpOnly cookie (SameSite=Lax, so the provider's redirect
back carries it; Secure when the flow's base URL is https) scoped to the flow's path, and
redirects to the provider. The callback refuses a state whose browser does not present
the nonce, before the state is used, and never redirects then.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE_PREFIX = "taskyard_oauth_"


def cookie_name(state_digest: str) -> str:
    """One cookie per flow, so two sign-ins in two tabs do not overwrite each other."""
    return COOKIE_PREFIX + state_digest[:16]


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def presented(request: Request, state_digest: str) -> str | None:
    """The nonce the browser sent for this flow, if any."""
    value = request.cookies.get(cookie_name(state_digest))
    return value if value and len(value) <= 100 else None


def matches(nonce: str | None, stored_hash: str | None) -> bool:
    """Does the browser's nonce hash to the one stored with the state?"""
    if not nonce or not stored_hash:
        return False
    return hmac.compare_digest(nonce_hash(nonce), stored_hash)


def set_cookie(
    response: Response, state_digest: str, nonce: str, *, path: str, max_age: int, base_url: str
) -> None:
    response.set_cookie(
        cookie_name(state_digest),
        nonce,
        max_age=max(1, max_age),
        path=path,
        httponly=True,
        secure=base_url.startswith("https://"),
        samesite="lax",
    )


def clear_cookie(response: Response, state_digest: str, *, path: str, base_url: str) -> None:
    response.delete_cookie(
        cookie_name(state_digest),
        path=path,
        httponly=True,
        secure=base_url.startswith("https://"),
        samesite="lax",
    )
