"""The sandbox LinkedIn: simulated sign-in and actions, deterministic, no network.

It is the embedded default so a new user can try the whole flow (connect,
schedule, watch jobs wait for their slot and finish) without a LinkedIn app or
an automation contract. Everything it answers is a pure function of its input:

* sign-in: the consent page hands back ``consent_code(state)``; ``exchange``
  accepts exactly that code for that state (known by its SHA-256 digest); the
  member is derived from the Taskyard user id (same user, same sandbox member).
* actions succeed, except for members whose public identifier starts with

  ``sandbox-limit``      first attempt: LinkedIn's weekly limit (``RateLimitedError``,
                         retry after one hour); later attempts succeed
  ``sandbox-challenge``  first attempt: a security check (``ChallengeError``);
                         later attempts succeed
  ``sandbox-missing``    the member does not exist (``NotFoundError``)
  ``sandbox-invalid``    LinkedIn refuses the request (``InvalidInputError``)
  ``sandbox-connected``  already a connection: an invitation is refused
                         (``AlreadyConnectedError``)

* campaign members answer by ``campaign_rules``: ``sandbox-accepts-2d-…`` accepts an
  invitation two days after it was sent, ``sandbox-replies-…`` replies to a message; the
  sandbox has no webhooks, so Taskyard's poller reports what is due (docs/linkedin.md).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel

from connectors.errors import AuthError, InvalidInputError, NotFoundError, RateLimitedError
from connectors.linkedin import (
    AlreadyConnectedError,
    ChallengeError,
    LinkedInToken,
    post_id,
    profile_slug,
)
from connectors.linkedin_automation import ActionResult

CLIENT_ID = "taskyard-sandbox"
LIMIT_RETRY_AFTER_SECONDS = 3600.0
DEFAULT_ANSWER_DELAY = timedelta(hours=1)
_DURATION = re.compile(r"^(\d{1,4})([mhd])$")
_ORDINAL = re.compile(r"^(\d{1,2})(st|nd|rd|th)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(("taskyard-sandbox", *parts)).encode()).hexdigest()


def consent_code(state: str) -> str:
    """The code the sandbox consent page returns for ``state`` (as LinkedIn's redirect would)."""
    return code_for(hashlib.sha256(state.encode()).hexdigest())


def code_for(state_digest: str) -> str:
    """The same code, from the state's SHA-256 hex digest (all Taskyard keeps of a state)."""
    return "sbx_" + _digest("code", state_digest)[:32]


def exchange(code: str, state_digest: str) -> LinkedInToken:
    """The sandbox token endpoint: only the code issued for this state is accepted."""
    if code != code_for(state_digest):
        raise AuthError("token exchange: invalid_grant (the sandbox did not issue this code)")
    return LinkedInToken(
        access_token="sbx_tok_" + _digest("token", state_digest)[:40],
        expires_in=60 * 24 * 3600,
        scope="openid profile email",
    )


class SandboxMember(BaseModel):
    sub: str
    name: str
    given_name: str
    family_name: str
    email: str
    profile_url: str
    connection_count: int


def member(user_id: str) -> SandboxMember:
    """The sandbox member a Taskyard user signs in as."""
    digest = _digest("member", user_id)
    return SandboxMember(
        sub="sbx" + digest[:10],
        name=f"Sandbox Member {digest[:4]}",
        given_name="Sandbox",
        family_name=f"Member {digest[:4]}",
        email=f"sandbox-{digest[:8]}@example.invalid",
        profile_url=f"https://www.linkedin.com/in/sandbox-member-{digest[:8]}",
        connection_count=100 + int(digest[8:14], 16) % 1900,
    )


_SUMMARY = {
    "sendConnectionRequest": "invitation sent",
    "sendMessage": "message sent",
    "viewProfile": "profile viewed",
    "followProfile": "followed",
    "likePost": "post liked",
    "withdrawConnectionRequest": "invitation withdrawn",
}


def perform(
    action_type: str,
    profile_url: str,
    *,
    attempt: int = 1,
    note: str | None = None,
    message: str | None = None,
    post_url: str | None = None,
) -> ActionResult:
    """Simulate one action; the outcome depends only on the arguments."""
    if action_type not in _SUMMARY:
        raise InvalidInputError(f"unknown action {action_type!r}")
    slug = profile_slug(profile_url)
    if slug.startswith("sandbox-missing"):
        raise NotFoundError("get profile: member not found (sandbox)", status_code=404)
    if slug.startswith("sandbox-invalid"):
        raise InvalidInputError("LinkedIn refused the request (sandbox)", status_code=422)
    if slug.startswith("sandbox-limit") and attempt <= 1:
        raise RateLimitedError(
            "LinkedIn's weekly invitation limit was reached (sandbox)",
            retry_after=LIMIT_RETRY_AFTER_SECONDS,
        )
    if slug.startswith("sandbox-challenge") and attempt <= 1:
        raise ChallengeError("LinkedIn asked the member to verify their identity (sandbox)")
    if action_type == "sendConnectionRequest" and campaign_rules(slug).connected:
        raise AlreadyConnectedError("already connected with this member (sandbox)")
    if action_type == "sendMessage" and not (message or "").strip():
        raise InvalidInputError("a message needs text")
    if note is not None and len(note) > 300:
        raise InvalidInputError("a connection note is at most 300 characters")
    details: dict[str, object] = {"simulated": True}
    if action_type == "likePost":
        if not post_url:
            raise InvalidInputError("likePost needs a postUrl")
        details["postId"] = post_id(post_url)
    return ActionResult(
        provider="sandbox",
        summary=_SUMMARY[action_type],
        remote_id="sbx_" + _digest(action_type, slug, str(attempt))[:16],
        details=details,
    )


@dataclass(frozen=True)
class CampaignRules:
    """How a sandbox member answers a campaign (from the words of its public identifier)."""

    accepts_after: timedelta | None = None  # after the invitation was sent
    replies_after: timedelta | None = None  # after the ``reply_to``-th message
    reply_to: int = 1
    connected: bool = False  # already a connection before any invitation


def answer_jitter(slug: str, kind: str) -> timedelta:
    """Members answer a little after the stated delay (one to ten minutes, fixed per member
    and kind), as people do: never on the exact second a sequence's own timers fall on."""
    spread = int(_digest("answer", slug, kind)[:8], 16) % 540
    return timedelta(seconds=60 + spread)


def _duration(token: str) -> timedelta | None:
    found = _DURATION.match(token)
    return timedelta(**{_UNITS[found[2]]: int(found[1])}) if found else None


def campaign_rules(slug: str) -> CampaignRules:
    """``sandbox-`` then any of: ``connected``; ``accepts`` [``2d``|``3h``|``30m``];
    ``replies`` [``2nd``] [duration]. The first other word ends the rules (the name).

    ``sandbox-accepts-2d-replies-2nd-4h-ada``: accepts two days after the invitation and
    replies four hours after the second message (each a few minutes more:
    ``answer_jitter``). Delays default to one hour."""
    words = slug.lower().split("-")
    if len(words) < 2 or words[0] != "sandbox":
        return CampaignRules()
    accepts = replies = None
    reply_to, connected = 1, False
    i = 1
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word == "connected":
            connected = True
        elif word == "accepts":
            accepts = _duration(nxt) or DEFAULT_ANSWER_DELAY
            i += 1 if _duration(nxt) else 0
        elif word == "replies":
            ordinal = _ORDINAL.match(nxt)
            if ordinal:
                reply_to = max(1, int(ordinal[1]))
                i += 1
                nxt = words[i + 1] if i + 1 < len(words) else ""
            replies = _duration(nxt) or DEFAULT_ANSWER_DELAY
            i += 1 if _duration(nxt) else 0
        else:
            break
        i += 1
    return CampaignRules(accepts, replies, reply_to, connected)
