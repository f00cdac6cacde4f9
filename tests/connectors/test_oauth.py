"""The OAuth providers of the app integrations: consent URLs and token answers per vendor."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from connectors import oauth
from connectors.errors import AuthError
from tests.fakes import discord as fake_discord_module
from tests.fakes import slack as fake_slack_module
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack

REDIRECT = "https://taskyard.example/v1/app_1/integrations/callback"
BASE_URLS = {
    "google_auth": "https://accounts.google.com/o/oauth2/v2/auth",
    "slack_auth": "https://slack.com/oauth/v2/authorize",
    "discord_auth": "https://discord.com/oauth2/authorize",
}


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def consent_url(toolkit: str) -> str:
    return oauth.authorization_url(
        oauth.PROVIDERS[toolkit], BASE_URLS, client_id="cid", redirect_uri=REDIRECT, state="s"
    )


def test_consent_urls_speak_each_vendors_dialect():
    slack = query(consent_url("slack"))
    assert slack["scope"] == "chat:write,chat:write.public,reactions:write,channels:read"
    discord = consent_url("discord")
    assert discord.startswith("https://discord.com/oauth2/authorize?")
    assert query(discord)["scope"] == "bot identify"
    assert int(query(discord)["permissions"]) & (1 << 11)  # Send Messages
    calendar = query(consent_url("google-calendar"))
    assert calendar["access_type"] == "offline" and calendar["prompt"] == "consent"
    assert calendar["scope"].split() == list(oauth.PROVIDERS["google-calendar"].scopes)


async def test_discord_bot_install_keeps_the_guild(fake_discord: FakeDiscord):
    provider = oauth.PROVIDERS["discord"]
    token_url = fake_discord.base_url.removesuffix("/v10") + "/oauth2/token"
    token = await oauth.exchange_code(
        token_url,
        code=fake_discord.issue_code(REDIRECT),
        redirect_uri=REDIRECT,
        client_id=fake_discord_module.OAUTH_CLIENT_ID,
        client_secret=fake_discord_module.OAUTH_CLIENT_SECRET,
        provider=provider,
    )
    stored = oauth.credential_data(provider, token)
    assert stored["guild_id"] == fake_discord_module.GUILD_ID
    assert stored["access_token"].startswith("discord-access-") and stored["refresh_token"]
    assert oauth.granted_scopes(provider, token) == ["identify", "bot"]
    with pytest.raises(AuthError):
        await oauth.exchange_code(
            token_url,
            code="used-or-forged",
            redirect_uri=REDIRECT,
            client_id=fake_discord_module.OAUTH_CLIENT_ID,
            client_secret=fake_discord_module.OAUTH_CLIENT_SECRET,
            provider=provider,
        )


async def test_slack_install_stores_the_bot_token(fake_slack: FakeSlack):
    provider = oauth.PROVIDERS["slack"]
    fake_slack.codes["c1"] = (REDIRECT, "chat:write,reactions:write")
    token = await oauth.exchange_code(
        fake_slack.token_url,
        code="c1",
        redirect_uri=REDIRECT,
        client_id=fake_slack_module.OAUTH_CLIENT_ID,
        client_secret=fake_slack_module.OAUTH_CLIENT_SECRET,
        provider=provider,
    )
    stored = oauth.credential_data(provider, token)
    assert stored["bot_token"] in fake_slack.tokens and "access_token" not in stored
    assert (stored["team_id"], stored["team_name"]) == ("T0TEST", "Taskyard Test")
    assert oauth.granted_scopes(provider, token) == ["chat:write", "reactions:write"]
    with pytest.raises(AuthError) as refused:  # Slack refuses with HTTP 200 and ok: false
        await oauth.exchange_code(
            fake_slack.token_url,
            code="c1",
            redirect_uri=REDIRECT,
            client_id=fake_slack_module.OAUTH_CLIENT_ID,
            client_secret=fake_slack_module.OAUTH_CLIENT_SECRET,
            provider=provider,
        )
    assert "invalid_code" in refused.value.message
