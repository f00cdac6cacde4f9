"""LinkedIn's official API: OAuth 2.0 sign-in, the member's OpenID profile, and posting.

Speaks LinkedIn's three-legged OAuth 2.0 (authorization-code grant, client
credentials in the form body of ``POST /oauth/v2/accessToken``), the OpenID
Connect ``GET /v2/userinfo`` endpoint and the versioned Posts API
(``POST /rest/posts`` with ``LinkedIn-Version`` and ``X-Restli-Protocol-Version``
headers). Auth: the member's bearer access token. Endpoint URLs come from
settings (``linkedin_auth_url``, ``linkedin_token_url``, ``linkedin_base_url``),
never from users, so they are not routed through ``netguard``.

Also here: LinkedIn URL parsing (member profile and post URLs), shared by the
API's validation and by the automation providers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_SCOPES: tuple[str, ...] = ("openid", "profile", "email")
POSTS_API_VERSION = "202601"
_SLUG = re.compile(r"^[A-Za-z0-9\-_%.À-ɏ]{3,100}$")
_HOSTS = re.compile(r"^([a-z]{2,3}\.|www\.|m\.)?linkedin\.com$")
_ACTIVITY = re.compile(r"(?:urn:li:(?:activity|share|ugcPost):|activity-)(\d{10,25})")


class ChallengeError(ConnectorError):
    """LinkedIn wants the member to prove who they are (checkpoint, captcha, re-login).

    Not retryable: nothing should be sent from the account until the member acts.
    """


class AlreadyConnectedError(InvalidInputError):
    """An invitation to a member who is already a first-degree connection: LinkedIn refuses
    it, and for a sequence it means the invitation step is already done."""


class LinkedInToken(BaseModel):
    """What LinkedIn's token endpoint grants (refresh tokens only for approved apps)."""

    model_config = ConfigDict(extra="ignore")

    access_token: str
    expires_in: int = 0
    scope: str = ""
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None
    id_token: str | None = None


class MemberProfile(BaseModel):
    """The OpenID Connect userinfo claims LinkedIn returns for ``openid profile email``."""

    model_config = ConfigDict(extra="ignore")

    sub: str
    name: str = ""
    given_name: str | None = None
    family_name: str | None = None
    picture: str | None = None
    email: str | None = None
    email_verified: bool | None = None


# ---- URLs -------------------------------------------------------------------------------


def normalize_profile_url(url: str) -> str:
    """``https://www.linkedin.com/in/<slug>`` for any member profile URL; else InvalidInputError."""
    raw = (url or "").strip()
    if not raw:
        raise InvalidInputError("profile URL is empty")
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not _HOSTS.match(host):
        raise InvalidInputError("profile URL must be a linkedin.com member profile (/in/<name>)")
    segments = [s for s in parts.path.split("/") if s]
    localized = len(segments) == 3 and re.fullmatch(r"[a-z]{2}", segments[2]) is not None
    if len(segments) not in (2, 3) or segments[0] != "in" or (len(segments) == 3 and not localized):
        raise InvalidInputError("profile URL must look like https://www.linkedin.com/in/<name>")
    slug = unquote(segments[1])
    if not _SLUG.match(slug):
        raise InvalidInputError("profile URL has an invalid member name")
    return "https://www.linkedin.com/in/" + quote(slug, safe="-_.")


def profile_slug(url: str) -> str:
    """The public identifier (vanity name) of a member profile URL."""
    return unquote(normalize_profile_url(url).rsplit("/", 1)[1])


def post_id(url: str) -> str:
    """The numeric activity id of a LinkedIn post URL (feed/update URN or /posts/ slug)."""
    raw = (url or "").strip()
    parts = urlsplit(raw if "://" in raw else "https://" + raw)
    if parts.scheme not in ("http", "https") or not _HOSTS.match((parts.hostname or "").lower()):
        raise InvalidInputError("post URL must be a linkedin.com post")
    match = _ACTIVITY.search(unquote(parts.path))
    if match is None:
        raise InvalidInputError(
            "post URL must name a post "
            "(…/feed/update/urn:li:activity:<id> or …/posts/…-activity-<id>)"
        )
    return match.group(1)


def authorization_url(
    auth_url: str, *, client_id: str, redirect_uri: str, state: str, scopes: list[str]
) -> str:
    """The page LinkedIn shows the member to approve access."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": " ".join(scopes),
        },
        quote_via=quote,
    )
    return f"{auth_url}?{query}"


# ---- HTTP -------------------------------------------------------------------------------


def _message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        for key in ("error_description", "message", "error"):
            if body.get(key):
                return str(body[key])
    return f"HTTP {response.status_code}"


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn LinkedIn's error statuses into the connector error family."""
    status = response.status_code
    if status < 400:
        return
    message = f"{what}: {_message(response)}"
    if status == 429:
        raise RateLimitedError(
            message, retry_after=retry_after_seconds(response.headers.get("retry-after"))
        )
    if status in (401, 403):
        raise AuthError(message, status_code=status)
    if status == 404:
        raise NotFoundError(message, status_code=status)
    if status >= 500:
        raise TransientError(message, status_code=status)
    if status == 400 and what == "token exchange":
        # invalid_grant / invalid_client: the code or the app credentials were refused
        raise AuthError(message, status_code=status)
    raise InvalidInputError(message, status_code=status)


async def _send(
    method: str, url: str, what: str, *, timeout: float, **kwargs: Any
) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientError(f"{what}: LinkedIn did not answer in {timeout}s") from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"{what}: {type(exc).__name__}") from exc
    raise_for_status(response, what)
    return response


async def exchange_code(
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    timeout: float = 30.0,
) -> LinkedInToken:
    """Trade an authorization code for an access token (the code works once)."""
    response = await _send(
        "POST",
        token_url,
        "token exchange",
        timeout=timeout,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
        },
        headers={"Accept": "application/json"},
    )
    try:
        return LinkedInToken.model_validate(response.json())
    except ValueError as exc:
        raise TransientError("token exchange: LinkedIn answered without a token") from exc


async def userinfo(base_url: str, access_token: str, *, timeout: float = 30.0) -> MemberProfile:
    """The signed-in member's OpenID Connect claims."""
    response = await _send(
        "GET",
        base_url.rstrip("/") + "/v2/userinfo",
        "userinfo",
        timeout=timeout,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    try:
        return MemberProfile.model_validate(response.json())
    except ValueError as exc:
        raise TransientError("userinfo: LinkedIn answered without a member id") from exc


async def create_post(
    base_url: str,
    access_token: str,
    *,
    author_urn: str,
    text: str,
    visibility: str = "PUBLIC",
    timeout: float = 30.0,
) -> str:
    """Publish a text post as the member; returns the new post's URN (``x-restli-id``)."""
    if not text.strip():
        raise InvalidInputError("post text is empty")
    if len(text) > 3000:
        raise InvalidInputError("post text is longer than 3000 characters")
    response = await _send(
        "POST",
        base_url.rstrip("/") + "/rest/posts",
        "create post",
        timeout=timeout,
        headers={
            "Authorization": f"Bearer {access_token}",
            "LinkedIn-Version": POSTS_API_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
            "Content-Type": "application/json",
        },
        json={
            "author": author_urn,
            "commentary": text,
            "visibility": visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        },
    )
    urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
    if not urn:
        raise TransientError("create post: LinkedIn did not return the post id")
    return urn


def member_urn(sub: str) -> str:
    """The person URN posts are authored as (the OpenID ``sub`` is the member id)."""
    return f"urn:li:person:{sub}"
