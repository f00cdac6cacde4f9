"""Connecting LinkedIn safely (the user-integrations API, sandbox provider): where the member
may be sent back, which browser may finish a sign-in, and who may name the automation
provider's account."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from store import linkedin as store
from tests.conftest import Stack, new_user
from tests.linkedin.helpers import RETURN_URL, follow, open_start, rebase

SETUP = "/api/v2/users/integrations/linkedin"
LEGACY_SETUP = "/api/v2/users/integrations/setup-linkedin-integration"
CALLBACK = "/api/v2/users/integrations/linkedin/callback"


async def setup(stack: Stack, key: str, **body: object) -> dict[str, str]:
    async with stack.api(key) as api:
        r = await api.post(SETUP, json=body)
    assert r.status_code == 200, r.text
    data: dict[str, str] = r.json()["data"]
    return data


async def test_return_url_must_be_on_an_allowed_origin(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.settings, "oauth_return_origins", "https://app.example")
    user_id, key = await new_user(stack)
    async with stack.api(key) as api:
        for url in (
            "https://evil.example/linkedin-done",
            "https://app.example.evil.example/x",
            "http://app.example/linkedin-done",  # another scheme is another origin
        ):
            r = await api.post(SETUP, json={"returnUrl": url})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["code"] == "RETURN_URL_NOT_ALLOWED"
    async with stack.admin as admin:
        r = await admin.post(
            LEGACY_SETUP, json={"userId": user_id, "returnUrl": "https://evil.example/x"}
        )
        assert r.status_code == 422 and r.json()["code"] == "RETURN_URL_NOT_ALLOWED"
    data = await setup(stack, key, returnUrl=RETURN_URL)

    # The operator narrows the origins while the sign-in runs: the registered returnUrl is
    # no longer a place to send the member, so the callback answers JSON instead.
    monkeypatch.setattr(stack.settings, "oauth_return_origins", "https://elsewhere.example")
    final = await follow(stack, data["authUrl"])
    assert final.status_code == 200 and "location" not in final.headers
    assert final.json()["success"] is True

    # Production with no origins listed refuses every returnUrl.
    monkeypatch.setattr(stack.settings, "oauth_return_origins", "")
    monkeypatch.setattr(stack.settings, "environment", "production")
    _other, other_key = await new_user(stack)
    async with stack.api(other_key) as api:
        r = await api.post(SETUP, json={"returnUrl": RETURN_URL})
    assert r.status_code == 422 and r.json()["code"] == "RETURN_URL_NOT_ALLOWED"


async def test_a_forged_or_foreign_state_is_never_redirected(stack: Stack) -> None:
    """An attacker's own state, sent to a victim, goes nowhere: the victim's browser did not
    start it. Before the browser binding, the error path redirected to its returnUrl."""
    _attacker, key = await new_user(stack)
    data = await setup(stack, key, returnUrl=RETURN_URL)
    async with httpx.AsyncClient(base_url=stack.base_url) as victim:
        for params in (
            {"state": data["state"], "error": "access_denied"},
            {"state": data["state"], "code": "x"},
            {"state": "forged", "error": "access_denied"},
        ):
            r = await victim.get(CALLBACK, params=params)
            assert r.status_code == 400 and "location" not in r.headers, r.text
            assert r.json()["code"] in ("OAUTH_BROWSER_MISMATCH", "INVALID_OAUTH_STATE")
            assert r.json()["code"] == (
                "INVALID_OAUTH_STATE" if params["state"] == "forged" else "OAUTH_BROWSER_MISMATCH"
            )
    async with httpx.AsyncClient() as owner:  # the state was not used up by the refusals
        final = await follow(stack, data["authUrl"], browser=owner)
    assert final.headers["location"] == RETURN_URL + "?linkedin=connected"


async def test_the_callback_needs_the_browser_that_opened_the_start_url(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    data = await setup(stack, key, returnUrl=RETURN_URL)
    async with httpx.AsyncClient() as first, httpx.AsyncClient() as second:
        r = await first.get(rebase(data["authUrl"], stack))
        assert r.status_code == 302
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("taskyard_oauth_") and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie and "Path=/api/v2/users/integrations/linkedin" in cookie
        assert "Secure" not in cookie  # the flow's base URL is http here
        consent = r.headers["location"]

        # Another browser cannot start it, nor finish it from the consent page.
        r = await second.get(rebase(data["authUrl"], stack))
        assert r.status_code == 400 and r.json()["code"] == "OAUTH_BROWSER_MISMATCH"
        r = await second.get(rebase(consent, stack))
        assert r.status_code == 302  # LinkedIn (here the sandbox) knows nothing of us
        r = await second.get(rebase(r.headers["location"], stack))
        assert r.status_code == 400 and r.json()["code"] == "OAUTH_BROWSER_MISMATCH"
        assert "location" not in r.headers
        account = await store.get_account(stack.deps.db, user_id)
        assert account is None or account.status != "connected"

        # The browser that started it may reload the start URL and finish.
        again = await open_start(first, stack, data["authUrl"])
        assert again == consent
        final = await follow(stack, consent, browser=first)
        assert final.headers["location"] == RETURN_URL + "?linkedin=connected"
        assert "taskyard_oauth_" in final.headers["set-cookie"]  # cleared
        assert not list(first.cookies.jar)


async def test_the_cookie_is_secure_when_the_flow_runs_over_https(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user, key = await new_user(stack)
    monkeypatch.setattr(stack.settings, "linkedin_redirect_base_url", "https://api.example")
    data = await setup(stack, key)
    start = urlsplit(data["authUrl"])
    assert (start.scheme, start.netloc) == ("https", "api.example")
    async with stack.api() as browser:
        r = await browser.get(f"{start.path}?{start.query}")
    assert r.status_code == 302 and "Secure" in r.headers["set-cookie"]


async def test_user_keys_cannot_name_the_automation_account(stack: Stack) -> None:
    user_id, key = await new_user(stack)
    async with stack.api(key) as api:
        for path, body in (
            (SETUP, {"automationAccountId": "acc_someone_else"}),
            (LEGACY_SETUP, {"automationAccountId": "acc_someone_else"}),
        ):
            r = await api.post(path, json=body)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["code"] == "AUTOMATION_ACCOUNT_FROM_PROVIDER"
    async with stack.admin as admin:  # an operator's global key still may (documented)
        r = await admin.post(
            LEGACY_SETUP, json={"userId": user_id, "automationAccountId": "acc_operator_1"}
        )
    assert r.status_code == 200, r.text


async def test_one_provider_account_is_linked_to_one_user(stack: Stack) -> None:
    first, _first_key = await new_user(stack)
    second, second_key = await new_user(stack)
    shared = "acc_shared_sandbox"
    async with stack.admin as admin:
        r = await admin.post(LEGACY_SETUP, json={"userId": first, "automationAccountId": shared})
        assert r.status_code == 200, r.text
        done = await follow(stack, r.json()["data"]["authUrl"])
        assert done.status_code == 200 and done.json()["success"] is True, done.text
        account = await store.get_account(stack.deps.db, first)
        assert account is not None and account.automation_account_id == shared
        r = await admin.post(LEGACY_SETUP, json={"userId": second, "automationAccountId": shared})
        assert r.status_code == 409 and r.json()["code"] == "AUTOMATION_ACCOUNT_IN_USE"
    async with stack.api(_first_key) as api:  # a disconnect frees the provider account
        assert (await api.delete(SETUP)).status_code == 200
    async with stack.admin as admin:
        r = await admin.post(LEGACY_SETUP, json={"userId": second, "automationAccountId": shared})
        assert r.status_code == 200, r.text
        done = await follow(stack, r.json()["data"]["authUrl"])
        assert done.json()["success"] is True
    account = await store.get_account(stack.deps.db, second)
    assert account is not None and account.automation_account_id == shared
    async with stack.api(second_key) as api:
        status = (await api.get("/api/v2/users/integrations")).json()["data"]["linkedin"]
    assert status["connected"] is True and status["provider"] == "sandbox"
