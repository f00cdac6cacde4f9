"""The Unipile account a member links comes from Unipile, never from the member: Unipile's
hosted sign-in calls our notify URL (with a secret, single-use state of ours) to say which
account was created, and one Unipile account is never linked to two users."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import update
from sqlmodel import col

from engine.models.linkedin import AUTOMATION_NOTIFY_PATH
from store import linkedin as store
from store.db import utcnow
from store.linkedin_links import LinkedInAutomationLink
from tests.conftest import new_user
from tests.linkedin.conftest import RealProviders
from tests.linkedin.helpers import RETURN_URL, follow, open_start, rebase

SETUP = "/api/v2/users/integrations/linkedin"


async def start(env: RealProviders, key: str) -> str:
    async with env.stack.api(key) as api:
        r = await api.post(SETUP, json={"returnUrl": RETURN_URL})
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["authUrl"])


async def up_to_the_wizard(env: RealProviders, key: str) -> str:
    """Sign in at LinkedIn; returns the Unipile wizard URL the callback sends the member to."""
    auth = await start(env, key)
    async with httpx.AsyncClient() as browser:
        at_linkedin = await open_start(browser, env.stack, auth)
        callback = (await browser.get(at_linkedin)).headers["location"]
        r = await browser.get(rebase(callback, env.stack))
    assert r.status_code == 302, r.text
    wizard = str(r.headers["location"])
    assert wizard.startswith(env.unipile.base_url + "/hosted/")
    return wizard


async def test_the_account_is_the_one_unipile_reports(real_providers: RealProviders) -> None:
    env = real_providers
    user_id, key = await new_user(env.stack)
    auth = await start(env, key)
    final = await follow(env.stack, auth)
    assert final.headers["location"] == RETURN_URL + "?linkedin=connected"
    link = env.unipile.links[-1]
    assert (link["type"], link["providers"], link["api_url"]) == (
        "create",
        ["LINKEDIN"],
        env.unipile.base_url,
    )
    assert link["name"].startswith("ty_") and user_id not in link["name"]
    notify = urlsplit(link["notify_url"])
    assert notify.path == AUTOMATION_NOTIFY_PATH and parse_qs(notify.query)["state"][0]
    assert link["success_redirect_url"] == RETURN_URL + "?linkedin=connected"
    assert link["failure_redirect_url"] == RETURN_URL + "?linkedin=error&error=automation_failed"
    status, notice, _ = env.unipile.notified[-1]
    assert status == 200
    account = await store.get_account(env.stack.deps.db, user_id)
    assert account is not None and account.automation_account_id == notice["account_id"]

    async with httpx.AsyncClient() as outsider:
        used = await outsider.post(rebase(link["notify_url"], env.stack), json=notice)
        assert used.status_code == 400 and used.json()["code"] == "INVALID_AUTOMATION_STATE"
        forged = await outsider.post(
            env.stack.base_url + AUTOMATION_NOTIFY_PATH,
            params={"state": "forged"},
            json={**notice, "account_id": "acc_victim"},
        )
        assert forged.status_code == 400 and forged.json()["code"] == "INVALID_AUTOMATION_STATE"
    account = await store.get_account(env.stack.deps.db, user_id)
    assert account is not None and account.automation_account_id == notice["account_id"]


async def test_a_notify_state_needs_its_name_and_expires(real_providers: RealProviders) -> None:
    env = real_providers
    user_id, key = await new_user(env.stack)
    wizard = await up_to_the_wizard(env, key)
    link = env.unipile.links[-1]
    notify = rebase(link["notify_url"], env.stack)
    async with httpx.AsyncClient() as outsider:
        wrong_name = await outsider.post(
            notify,
            json={"status": "CREATION_SUCCESS", "account_id": "acc_victim", "name": "ty_other"},
        )
        assert wrong_name.status_code == 400
        assert wrong_name.json()["code"] == "INVALID_AUTOMATION_STATE"
        other_status = await outsider.post(
            notify, json={"status": "RECONNECTED", "account_id": "acc_x", "name": link["name"]}
        )
        assert other_status.status_code == 400
        assert other_status.json()["code"] == "UNSUPPORTED_NOTIFICATION"
        bad_body = await outsider.post(notify, content=b"{nope")
        assert bad_body.status_code == 400 and bad_body.json()["code"] == "INVALID_JSON"
    async with env.stack.deps.db.engine.begin() as conn:  # the clock passes the link's expiry
        await conn.execute(
            update(LinkedInAutomationLink)
            .where(col(LinkedInAutomationLink.user_id) == user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with httpx.AsyncClient() as browser:
        back = await browser.get(wizard)
    assert back.headers["location"] == RETURN_URL + "?linkedin=error&error=automation_failed"
    status, _notice, answer = env.unipile.notified[-1]
    assert status == 400 and answer["code"] == "INVALID_AUTOMATION_STATE"
    account = await store.get_account(env.stack.deps.db, user_id)
    assert account is not None and account.status == "connected"
    assert account.automation_account_id is None


async def test_one_unipile_account_is_never_linked_to_two_users(
    real_providers: RealProviders,
) -> None:
    env = real_providers
    first, first_key = await new_user(env.stack)
    second, second_key = await new_user(env.stack)
    env.unipile.next_accounts = ["acc_shared", "acc_shared"]
    done = await follow(env.stack, await start(env, first_key))
    assert done.headers["location"] == RETURN_URL + "?linkedin=connected"
    refused = await follow(env.stack, await start(env, second_key))
    assert refused.headers["location"] == RETURN_URL + "?linkedin=error&error=automation_failed"
    status, _notice, answer = env.unipile.notified[-1]
    assert status == 409 and answer["code"] == "AUTOMATION_ACCOUNT_IN_USE"
    held = await store.get_account(env.stack.deps.db, first)
    other = await store.get_account(env.stack.deps.db, second)
    assert held is not None and held.automation_account_id == "acc_shared"
    assert other is not None and other.automation_account_id is None
    third, _ = await new_user(env.stack)
    async with env.stack.admin as admin:  # not even an operator may link it twice
        r = await admin.post(
            "/api/v2/users/integrations/setup-linkedin-integration",
            json={"userId": third, "automationAccountId": "acc_shared"},
        )
    assert r.status_code == 409 and r.json()["code"] == "AUTOMATION_ACCOUNT_IN_USE"
