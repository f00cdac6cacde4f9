"""LinkedIn automation through the Unipile API v2 (https://developer.unipile.com/v2.0).

Auth: the operator's Unipile key in the ``X-API-KEY`` header; each LinkedIn
member is a Unipile account (``acc_…``) named in the path. Requests, as the v2
reference documents them::

    GET  /v2/{account}/users/{user_id}                          profile, relation status,
                                                                notify_visit_token
    POST /v2/{account}/users/me/relation-requests               invite {user_id, message?}
    POST /v2/{account}/users/me/relation-requests/{id}/cancel   withdraw an invitation
    POST /v2/{account}/users/me/follow/{user_id}                follow
    POST /v2/{account}/users/visit-profile?token=…              report a profile view
    POST /v2/{account}/chats/send                               message {users_ids, text}
    POST /v2/{account}/posts/{post_id}/reactions                react {reaction}

Members connect their LinkedIn account to Unipile through Unipile's hosted sign-in
wizard (``request_hosted_link``): the v1 route ``POST /api/v1/hosted/accounts/link``
``{type: "create", providers: ["LINKEDIN"], api_url, expiresOn, name, notify_url,
success_redirect_url?, failure_redirect_url?}`` answers ``{object: "HostedAuthURL",
url}``; once the member has signed in, Unipile calls ``notify_url`` server to server
with ``{status: "CREATION_SUCCESS", account_id, name}``. The account id is never taken
from anyone else.

A profile URL's public identifier is first resolved to the provider id with the
profile route, as Unipile recommends. Errors are RFC 7807 bodies
(``{"object": "Error", "type": "provider/…", "status", "title", "detail"}``) and
are classified by status and ``type`` code, never by message: 429 or a limit
type (``limit_exceeded``, ``too_many_requests``, …) is ``RateLimitedError`` (the
account should pause); a checkpoint or a provider-side ``invalid_authorization`` is
``ChallengeError``; 404 is ``NotFoundError``; other 4xx ``InvalidInputError``;
5xx and network trouble ``TransientError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from connectors.errors import (
    AuthError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)
from connectors.linkedin import AlreadyConnectedError, ChallengeError, post_id, profile_slug

LIMIT_CODES = frozenset(
    {"limit_exceeded", "limit_reached", "too_many_requests", "rate_limit_exceeded"}
)
CHALLENGE_CODES = frozenset(
    {"invalid_authorization", "checkpoint_error", "captcha_required", "disconnected_account"}
)
HOSTED_LINK_PATH = "/api/v1/hosted/accounts/link"


class ActionResult(BaseModel):
    """What one automation call did, in provider-neutral terms."""

    provider: str
    summary: str
    remote_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class RelationStatus(BaseModel):
    network_distance: str | None = None
    relation_request_status: str | None = None
    pending_request_id: str | None = None
    is_following: bool | None = None


@dataclass(frozen=True)
class UnipileClient:
    """One member's Unipile account, reached with the operator's key."""

    base_url: str
    api_key: str
    account_id: str
    timeout: float = 30.0

    def _url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/v2/{quote(self.account_id, safe='')}{path}"

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"X-API-KEY": self.api_key, "Accept": "application/json"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.request(
                    method, self._url(path), headers=headers, json=json, params=params
                )
        except httpx.TimeoutException as exc:
            raise TransientError(f"{what}: Unipile did not answer in {self.timeout}s") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"{what}: {type(exc).__name__}") from exc
        raise_for_problem(response, what)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError(f"{what}: Unipile answered with a non-JSON body") from exc
        return body if isinstance(body, dict) else {"data": body}

    # ---- reads ------------------------------------------------------------------------

    async def profile(self, identifier: str) -> dict[str, Any]:
        """A member profile by public identifier or provider id (``me`` for the owner)."""
        return await self._call("GET", f"/users/{quote(identifier, safe='')}", "get profile")

    async def relation_status(self, profile_url: str) -> RelationStatus:
        profile = await self.profile(profile_slug(profile_url))
        return _relation(profile)

    async def _target(self, profile_url: str) -> tuple[str, dict[str, Any]]:
        profile = await self.profile(profile_slug(profile_url))
        user_id = profile.get("id")
        if not user_id:
            raise NotFoundError("the profile has no provider id")
        return str(user_id), profile

    # ---- actions ----------------------------------------------------------------------

    async def send_invitation(self, profile_url: str, note: str | None) -> ActionResult:
        user_id, profile = await self._target(profile_url)
        if _relation(profile).network_distance == "FIRST_DEGREE":
            raise AlreadyConnectedError("already connected with this member")
        body: dict[str, Any] = {"user_id": user_id}
        if note:
            body["message"] = note
        sent = await self._call("POST", "/users/me/relation-requests", "send invitation", json=body)
        return ActionResult(
            provider="unipile",
            summary="invitation sent",
            remote_id=_str(sent.get("id")),
            details={"userId": user_id},
        )

    async def withdraw_invitation(self, profile_url: str) -> ActionResult:
        user_id, profile = await self._target(profile_url)
        pending = _relation(profile).pending_request_id
        if pending is None:
            raise NotFoundError("no pending invitation to this member")
        await self._call(
            "POST",
            f"/users/me/relation-requests/{quote(pending, safe='')}/cancel",
            "withdraw invitation",
        )
        return ActionResult(
            provider="unipile",
            summary="invitation withdrawn",
            remote_id=pending,
            details={"userId": user_id},
        )

    async def send_message(self, profile_url: str, text: str) -> ActionResult:
        user_id, _profile = await self._target(profile_url)
        sent = await self._call(
            "POST", "/chats/send", "send message", json={"users_ids": user_id, "text": text}
        )
        remote = _str(sent.get("message_id") or sent.get("id") or sent.get("chat_id"))
        return ActionResult(
            provider="unipile",
            summary="message sent",
            remote_id=remote,
            details={"userId": user_id, "chatId": _str(sent.get("chat_id"))},
        )

    async def view_profile(self, profile_url: str) -> ActionResult:
        user_id, profile = await self._target(profile_url)
        token = (profile.get("specifics") or {}).get("notify_visit_token")
        if token:
            await self._call(
                "POST", "/users/visit-profile", "report profile visit", params={"token": str(token)}
            )
        return ActionResult(
            provider="unipile",
            summary="profile viewed",
            remote_id=user_id,
            details={"visitReported": bool(token)},
        )

    async def follow(self, profile_url: str) -> ActionResult:
        user_id, profile = await self._target(profile_url)
        if profile.get("is_following"):
            return ActionResult(provider="unipile", summary="already following", remote_id=user_id)
        await self._call("POST", f"/users/me/follow/{quote(user_id, safe='')}", "follow")
        return ActionResult(provider="unipile", summary="followed", remote_id=user_id)

    async def like_post(self, post_url: str) -> ActionResult:
        activity = post_id(post_url)
        await self._call(
            "POST",
            f"/posts/{activity}/reactions",
            "react to post",
            json={"reaction": "linkedin_like"},
        )
        return ActionResult(provider="unipile", summary="post liked", remote_id=activity)


async def request_hosted_link(
    base_url: str,
    api_key: str,
    *,
    name: str,
    notify_url: str,
    expires_at: datetime,
    success_redirect_url: str | None = None,
    failure_redirect_url: str | None = None,
    timeout: float = 30.0,
) -> str:
    """A hosted sign-in link for one new LinkedIn account; Unipile will call ``notify_url``
    with the account id and ``name`` once the member has signed in."""
    what = "hosted sign-in link"
    body: dict[str, Any] = {
        "type": "create",
        "providers": ["LINKEDIN"],
        "api_url": base_url.rstrip("/"),
        "expiresOn": expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{expires_at.microsecond // 1000:03d}Z",
        "name": name,
        "notify_url": notify_url,
    }
    if success_redirect_url:
        body["success_redirect_url"] = success_redirect_url
    if failure_redirect_url:
        body["failure_redirect_url"] = failure_redirect_url
    headers = {"X-API-KEY": api_key, "Accept": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(
                base_url.rstrip("/") + HOSTED_LINK_PATH, headers=headers, json=body
            )
    except httpx.TimeoutException as exc:
        raise TransientError(f"{what}: Unipile did not answer in {timeout}s") from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"{what}: {type(exc).__name__}") from exc
    raise_for_problem(response, what)
    try:
        url = response.json().get("url")
    except (ValueError, AttributeError) as exc:
        raise TransientError(f"{what}: Unipile answered with a non-JSON body") from exc
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TransientError(f"{what}: Unipile answered without a link")
    return url


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _relation(profile: dict[str, Any]) -> RelationStatus:
    specifics = profile.get("specifics") or {}
    request = specifics.get("relation_request") or {}
    pending = request.get("id") if request.get("type") == "sent" else None
    return RelationStatus(
        network_distance=specifics.get("network_distance"),
        relation_request_status=specifics.get("relation_request_status"),
        pending_request_id=_str(pending),
        is_following=profile.get("is_following"),
    )


def raise_for_problem(response: httpx.Response, what: str) -> None:
    """Classify an RFC 7807 problem by status and ``type`` code."""
    status = response.status_code
    if status < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    kind = str(body.get("type") or "")
    code = kind.rsplit("/", 1)[-1]
    message = f"{what}: {body.get('detail') or body.get('title') or f'HTTP {status}'}"
    if status == 429 or code in LIMIT_CODES:
        raise RateLimitedError(
            message,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            status_code=status,
        )
    if code in CHALLENGE_CODES or "checkpoint" in code or "captcha" in code:
        raise ChallengeError(message, status_code=status)
    if status in (401, 403):
        raise AuthError(message, status_code=status)
    if status == 404:
        raise NotFoundError(message, status_code=status)
    if status >= 500:
        raise TransientError(message, status_code=status)
    raise InvalidInputError(message, status_code=status)
