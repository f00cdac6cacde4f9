"""LinkedIn OAuth and the Unipile provider end to end, against servers speaking their formats:
LinkedIn's sign-in, then Unipile's hosted sign-in, whose notify call says which Unipile
account the member linked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from store import linkedin as store
from tests.conftest import new_user, wait_for
from tests.linkedin.conftest import RealProviders
from tests.linkedin.helpers import RETURN_URL, follow, job, open_start, wait_status

PROFILE = "https://www.linkedin.com/in/marie-curie"


async def _connect(env: RealProviders, key: str) -> str:
    """Sign in at LinkedIn, then at Unipile's hosted page; the Unipile account it reported."""
    async with env.stack.api(key) as api:
        r = await api.post("/api/v2/users/integrations/linkedin", json={"returnUrl": RETURN_URL})
    assert r.status_code == 200, r.text
    auth = r.json()["data"]["authUrl"]
    assert auth.startswith(
        env.stack.settings.api_base_url + "/api/v2/users/integrations/linkedin/start?"
    )
    async with httpx.AsyncClient() as browser:
        at_linkedin = await open_start(browser, env.stack, auth)
        assert at_linkedin.startswith(env.linkedin.base_url + "/oauth/v2/authorization?")
        final = await follow(env.stack, at_linkedin, browser=browser)
    assert final.headers["location"] == RETURN_URL + "?linkedin=connected", final.text
    status, notice, _answer = env.unipile.notified[-1]
    assert status == 200
    return str(notice["account_id"])


async def test_linkedin_oauth_connects_and_stores_the_token_encrypted(
    real_providers: RealProviders,
) -> None:
    env = real_providers
    user_id, key = await new_user(env.stack)
    reported = await _connect(env, key)

    async def profiled() -> dict[str, object] | None:  # read from Unipile once it is linked
        async with env.stack.api(key) as api:
            body = (await api.get("/api/v2/users/integrations")).json()
        linkedin: dict[str, object] = body["data"]["linkedin"]
        return linkedin if linkedin["connectionCount"] is not None else None

    linkedin = await wait_for(profiled)
    assert linkedin["connected"] is True and linkedin["provider"] == "unipile"
    assert linkedin["name"] == "Jane Member"  # from OpenID userinfo
    assert linkedin["profileUrl"] == "https://www.linkedin.com/in/jane-member"
    assert linkedin["connectionCount"] == 1247
    exchange = next(r for r in env.linkedin.requests if r.path == "/oauth/v2/accessToken")
    assert exchange.form["redirect_uri"].endswith("/api/v2/users/integrations/linkedin/callback")
    account = await store.get_account(env.stack.deps.db, user_id)
    assert account is not None and account.token_ciphertext is not None
    token = store.open_token(env.stack.deps.vault, account)["access_token"]
    assert token in env.linkedin.tokens and token not in account.token_ciphertext
    assert account.member_id == "782bbtaQ" and account.automation_account_id == reported


async def test_a_refused_code_is_reported_back(real_providers: RealProviders) -> None:
    env = real_providers
    _user, key = await new_user(env.stack)
    async with env.stack.api(key) as api:
        data = (
            await api.post("/api/v2/users/integrations/linkedin", json={"returnUrl": RETURN_URL})
        ).json()["data"]
    async with httpx.AsyncClient() as browser:
        await open_start(browser, env.stack, data["authUrl"])
        r = await browser.get(
            env.stack.base_url + "/api/v2/users/integrations/linkedin/callback",
            params={"state": data["state"], "code": "never-issued"},
        )
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query) == {
        "linkedin": ["error"],
        "error": ["connect_failed"],
    }
    async with env.stack.api(key) as api:
        linkedin = (await api.get("/api/v2/users/integrations")).json()["data"]["linkedin"]
    assert linkedin["connected"] is False


async def test_actions_go_through_unipile(real_providers: RealProviders) -> None:
    env = real_providers
    _user, key = await new_user(env.stack)
    await _connect(env, key)
    member = env.unipile.add_member("marie-curie")
    async with env.stack.api(key) as api:
        await api.put(
            "/api/v2/linkedin/settings",
            json={"minDelaySeconds": 0, "maxDelaySeconds": 0, "workingHours": None},
        )
        r = await api.post(
            "/api/v2/linkedin/actions",
            json={
                "actionType": "sendConnectionRequest",
                "profileUrl": PROFILE,
                "note": "Hello Marie",
            },
        )
    assert r.status_code == 202, r.text
    done = await wait_status(env.stack, key, r.json()["data"]["jobId"], "completed", "failed")
    assert done["status"] == "completed", done
    assert done["metadata"]["provider"] == "unipile"
    [invitation] = env.unipile.invitations.values()
    assert invitation["user_id"] == member["id"] and invitation["message"] == "Hello Marie"
    async with env.stack.api(key) as api:
        r = await api.post(
            "/api/v2/linkedin/actions",
            json={"actionType": "withdrawConnectionRequest", "profileUrl": PROFILE},
        )
    done = await wait_status(env.stack, key, r.json()["data"]["jobId"], "completed", "failed")
    assert done["message"] == "Connection request withdrawn successfully"
    assert env.unipile.invitations == {}


async def test_a_provider_limit_pauses_for_its_retry_after(real_providers: RealProviders) -> None:
    env = real_providers
    _user, key = await new_user(env.stack)
    await _connect(env, key)
    env.unipile.add_member("pierre-curie")
    env.unipile.arm = "limit"
    async with env.stack.api(key) as api:
        await api.put(
            "/api/v2/linkedin/settings",
            json={"minDelaySeconds": 0, "maxDelaySeconds": 0, "workingHours": None},
        )
        r = await api.post(
            "/api/v2/linkedin/actions",
            json={
                "actionType": "sendConnectionRequest",
                "profileUrl": "https://www.linkedin.com/in/pierre-curie",
            },
        )
    job_id = r.json()["data"]["jobId"]

    async def paused() -> bool:
        return "paused" in (await job(env.stack, key, job_id))["message"]

    await wait_for(paused)
    async with env.stack.api(key) as api:
        gov = (await api.get("/api/v2/linkedin/settings")).json()["data"]["governor"]
        assert "weekly invitation limit" in gov["pauseReason"]
        until = datetime.fromisoformat(gov["pausedUntil"].replace("Z", "+00:00"))
        assert until > datetime.now(UTC) + timedelta(hours=1, minutes=50)  # Retry-After: 7200
        await api.delete(f"/api/v2/users/jobs/{job_id}")
    await wait_status(env.stack, key, job_id, "cancelled")
