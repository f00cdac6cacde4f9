"""A stack whose vendor URLs point at local fakes: Slack (and its OAuth v2), Gmail, Google
Calendar, a Google-style OAuth provider. Discord has no vendor client here, so it connects
through the sandbox."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import Stack, make_settings, run_stack
from tests.fakes.google import FakeGoogle
from tests.fakes.server import serve
from tests.fakes.slack import OAUTH_CLIENT_ID as SLACK_CLIENT_ID
from tests.fakes.slack import OAUTH_CLIENT_SECRET as SLACK_CLIENT_SECRET
from tests.fakes.slack import FakeSlack
from tests.integrations.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuthProvider

REDIRECT = "https://app.example.com/settings/integrations"


@dataclass
class Fakes:
    slack: FakeSlack
    google: FakeGoogle
    oauth: FakeOAuthProvider


@pytest.fixture(scope="session")
async def fakes() -> AsyncIterator[Fakes]:
    slack, google = FakeSlack(), FakeGoogle()
    provider = FakeOAuthProvider(on_access_token=lambda token: google.access_tokens.add(token))
    async with (
        serve(slack.app()) as s_url,
        serve(google.app()) as g_url,
        serve(provider.app()) as p_url,
    ):
        slack.base_url, google.base_url, provider.base_url = s_url, g_url, p_url
        yield Fakes(slack, google, provider)


@pytest.fixture(scope="session")
async def istack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fakes: Fakes,
) -> AsyncIterator[Stack]:
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path_factory.mktemp("integrations"),
        slack_base_url=fakes.slack.base_url + "/api/",
        gmail_base_url=fakes.google.base_url,
        google_calendar_base_url=fakes.google.base_url + "/calendar/v3",
        google_auth_url=fakes.oauth.auth_url,
        google_token_url=fakes.oauth.token_url,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        slack_auth_url=fakes.slack.authorize_url,
        slack_token_url=fakes.slack.token_url,
        slack_client_id=SLACK_CLIENT_ID,
        slack_client_secret=SLACK_CLIENT_SECRET,
        http_timeout_seconds=5.0,
    )
    async with run_stack(temporal_env, settings) as running:
        yield running


def user_jwt(secret: str, app_id: str, sub: str, **claims: Any) -> str:
    """An end user's token as an app signs it: for that app (``aud``), ten minutes long.
    A claim given as None is left out."""
    now = int(time.time())
    payload = {"sub": sub, "aud": app_id, "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, "HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_app(
    stack: Stack,
    key: str,
    *,
    toolkits: tuple[str, ...] = (),
    redirect_urls: list[str] | None = None,
) -> tuple[str, str]:
    """A new app of the key's user, with ``toolkits`` enabled: (app id, JWT secret)."""
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/apps",
            json={
                "name": f"app-{uuid.uuid4().hex[:6]}",
                "redirectUrls": [REDIRECT] if redirect_urls is None else redirect_urls,
            },
        )
        assert r.status_code == 201, r.text
        app_id, secret = r.json()["appId"], r.json()["jwtSecret"]
        for toolkit in toolkits:
            r = await api.post(f"/v1/{app_id}/integrations/configure", json={"toolkit": toolkit})
            assert r.status_code == 201, r.text
    return app_id, secret
