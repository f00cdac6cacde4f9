"""The LinkedIn connectors against local servers speaking LinkedIn's and Unipile's wire formats."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors import linkedin, linkedin_sandbox
from connectors.errors import AuthError, InvalidInputError, NotFoundError, RateLimitedError
from connectors.linkedin import ChallengeError
from connectors.linkedin_automation import UnipileClient
from tests.linkedin.fakes import (
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    UNIPILE_KEY,
    FakeLinkedIn,
    FakeUnipile,
)

REDIRECT = "https://taskyard.example/api/v2/users/integrations/linkedin/callback"


# ---- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "https://www.linkedin.com/in/john-doe",
        "https://linkedin.com/in/john-doe/",
        "linkedin.com/in/john-doe",
        "http://uk.linkedin.com/in/john-doe?trk=x",
        "https://www.linkedin.com/in/john-doe/fr",
    ],
)
def test_profile_urls_normalize(raw: str) -> None:
    assert linkedin.normalize_profile_url(raw) == "https://www.linkedin.com/in/john-doe"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "https://example.com/in/john",
        "https://www.linkedin.com/company/acme",
        "https://www.linkedin.com/in/",
        "https://www.linkedin.com/in/jo",
        "https://www.linkedin.com/in/john/details/skills",
        "ftp://linkedin.com/in/john-doe",
        "https://www.linkedin.com/in/bad name",
    ],
)
def test_malformed_profile_urls_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInputError):
        linkedin.normalize_profile_url(raw)


def test_post_ids_come_from_post_urls() -> None:
    assert (
        linkedin.post_id(
            "https://www.linkedin.com/feed/update/urn:li:activity:7123456789012345678/"
        )
        == "7123456789012345678"
    )
    assert (
        linkedin.post_id(
            "https://www.linkedin.com/posts/jane_title-activity-7123456789012345678-AbCd"
        )
        == "7123456789012345678"
    )
    with pytest.raises(InvalidInputError):
        linkedin.post_id("https://www.linkedin.com/in/jane")


# ---- official API ---------------------------------------------------------------------------


def test_authorization_url_carries_what_linkedin_needs() -> None:
    url = linkedin.authorization_url(
        "https://www.linkedin.com/oauth/v2/authorization",
        client_id="abc",
        redirect_uri=REDIRECT,
        state="s1",
        scopes=["openid", "profile", "email"],
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "response_type": ["code"],
        "client_id": ["abc"],
        "redirect_uri": [REDIRECT],
        "state": ["s1"],
        "scope": ["openid profile email"],
    }


async def _code(fake: FakeLinkedIn) -> str:
    url = linkedin.authorization_url(
        fake.base_url + "/oauth/v2/authorization",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT,
        state="st",
        scopes=list(linkedin.DEFAULT_SCOPES),
    )
    async with httpx.AsyncClient() as http:
        r = await http.get(url)
    assert r.status_code == 302
    return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]


async def test_code_exchange_userinfo_and_posting(fake_linkedin: FakeLinkedIn) -> None:
    code = await _code(fake_linkedin)
    token = await linkedin.exchange_code(
        fake_linkedin.base_url + "/oauth/v2/accessToken",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        code=code,
        redirect_uri=REDIRECT,
    )
    assert token.access_token.startswith("AQV") and token.expires_in > 0
    sent = fake_linkedin.requests[-1]
    assert sent.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert sent.form["grant_type"] == "authorization_code"
    member = await linkedin.userinfo(fake_linkedin.base_url, token.access_token)
    assert (member.sub, member.name, member.email) == (
        "782bbtaQ",
        "Jane Member",
        "jane@example.com",
    )
    urn = await linkedin.create_post(
        fake_linkedin.base_url,
        token.access_token,
        author_urn=linkedin.member_urn(member.sub),
        text="Hello",
    )
    assert urn.startswith("urn:li:share:")
    assert fake_linkedin.posts[0]["author"] == "urn:li:person:782bbtaQ"
    assert fake_linkedin.posts[0]["lifecycleState"] == "PUBLISHED"


async def test_a_code_works_once(fake_linkedin: FakeLinkedIn) -> None:
    code = await _code(fake_linkedin)
    url = fake_linkedin.base_url + "/oauth/v2/accessToken"
    await linkedin.exchange_code(
        url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
    )
    with pytest.raises(AuthError, match="authorization code not found"):
        await linkedin.exchange_code(
            url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
        )


async def test_wrong_client_secret_and_bad_token_are_auth_errors(
    fake_linkedin: FakeLinkedIn,
) -> None:
    code = await _code(fake_linkedin)
    with pytest.raises(AuthError):
        await linkedin.exchange_code(
            fake_linkedin.base_url + "/oauth/v2/accessToken",
            client_id=CLIENT_ID,
            client_secret="nope",
            code=code,
            redirect_uri=REDIRECT,
        )
    with pytest.raises(AuthError):
        await linkedin.userinfo(fake_linkedin.base_url, "not-a-token")


# ---- Unipile --------------------------------------------------------------------------------


def _client(fake: FakeUnipile, key: str = UNIPILE_KEY) -> UnipileClient:
    return UnipileClient(base_url=fake.base_url, api_key=key, account_id=ACCOUNT)


async def test_invite_then_withdraw(fake_unipile: FakeUnipile) -> None:
    member = fake_unipile.add_member("john-doe")
    client = _client(fake_unipile)
    url = "https://www.linkedin.com/in/john-doe"
    sent = await client.send_invitation(url, "Hi John")
    assert sent.remote_id in fake_unipile.invitations
    assert fake_unipile.invitations[sent.remote_id]["user_id"] == member["id"]
    assert fake_unipile.invitations[sent.remote_id]["message"] == "Hi John"
    status = await client.relation_status(url)
    assert status.pending_request_id == sent.remote_id
    with pytest.raises(InvalidInputError):
        await client.send_invitation(url, None)  # already invited: LinkedIn refuses
    withdrawn = await client.withdraw_invitation(url)
    assert withdrawn.remote_id == sent.remote_id and not fake_unipile.invitations
    with pytest.raises(NotFoundError):
        await client.withdraw_invitation(url)


async def test_message_view_follow_and_like(fake_unipile: FakeUnipile) -> None:
    member = fake_unipile.add_member("ada-lovelace", distance="FIRST_DEGREE")
    client = _client(fake_unipile)
    url = "https://www.linkedin.com/in/ada-lovelace"
    sent = await client.send_message(url, "Hello Ada")
    assert fake_unipile.messages == [{"users_ids": member["id"], "text": "Hello Ada"}]
    assert sent.remote_id == "msg_1"
    viewed = await client.view_profile(url)
    assert viewed.details == {"visitReported": True}
    assert fake_unipile.visits == [member["specifics"]["notify_visit_token"]]
    await client.follow(url)
    assert member["is_following"] is True
    assert (await client.follow(url)).summary == "already following"
    await client.like_post("https://www.linkedin.com/feed/update/urn:li:activity:7123456789012")
    assert fake_unipile.reactions == [{"post": "7123456789012", "reaction": "linkedin_like"}]
    with pytest.raises(InvalidInputError):  # already a first-degree connection
        await client.send_invitation(url, None)


async def test_limits_challenges_and_errors_are_classified(fake_unipile: FakeUnipile) -> None:
    fake_unipile.add_member("john-doe")
    client = _client(fake_unipile)
    url = "https://www.linkedin.com/in/john-doe"
    fake_unipile.arm = "limit"
    with pytest.raises(RateLimitedError) as limited:
        await client.send_invitation(url, None)
    assert limited.value.retry_after == 7200
    fake_unipile.arm = "checkpoint"
    with pytest.raises(ChallengeError):
        await client.send_invitation(url, None)
    with pytest.raises(NotFoundError):
        await client.view_profile("https://www.linkedin.com/in/nobody-here")
    with pytest.raises(AuthError):
        await _client(fake_unipile, key="wrong").view_profile(url)


# ---- sandbox --------------------------------------------------------------------------------


def test_sandbox_is_deterministic() -> None:
    url = "https://www.linkedin.com/in/someone"
    assert linkedin_sandbox.perform("viewProfile", url) == linkedin_sandbox.perform(
        "viewProfile", url
    )
    with pytest.raises(RateLimitedError):
        linkedin_sandbox.perform(
            "sendConnectionRequest", "https://www.linkedin.com/in/sandbox-limit-1"
        )
    assert (
        linkedin_sandbox.perform(
            "sendConnectionRequest", "https://www.linkedin.com/in/sandbox-limit-1", attempt=2
        ).summary
        == "invitation sent"
    )
    with pytest.raises(ChallengeError):
        linkedin_sandbox.perform("followProfile", "https://www.linkedin.com/in/sandbox-challenge-x")
    with pytest.raises(NotFoundError):
        linkedin_sandbox.perform(
            "sendMessage", "https://www.linkedin.com/in/sandbox-missing", message="hi"
        )
    assert linkedin_sandbox.member("u1") == linkedin_sandbox.member("u1")
    assert linkedin_sandbox.member("u1").sub != linkedin_sandbox.member("u2").sub


def test_sandbox_codes_belong_to_their_state() -> None:
    import hashlib

    code = linkedin_sandbox.consent_code("state-1")
    digest = hashlib.sha256(b"state-1").hexdigest()
    assert linkedin_sandbox.exchange(code, digest).access_token.startswith("sbx_tok_")
    with pytest.raises(AuthError):
        linkedin_sandbox.exchange(code, hashlib.sha256(b"state-2").hexdigest())
