"""How an OAuth toolkit connects, by settings: the vendor, the sandbox, or not at all."""

from __future__ import annotations

from typing import Any

from engine.services import app_integrations, catalog
from settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def kit(name: str) -> catalog.Toolkit:
    found = catalog.toolkit(name)
    assert found is not None
    return found


def test_no_vendor_client_means_the_sandbox() -> None:
    defaults = settings()
    for name in ("gmail", "google-calendar", "slack", "discord"):
        assert app_integrations.oauth_mode(defaults, kit(name)) == "sandbox", name
    assert app_integrations.oauth_mode(defaults, kit("stripe")) is None


def test_a_vendor_client_switches_to_the_real_flow() -> None:
    google = settings(google_client_id="id", google_client_secret="secret")
    assert app_integrations.oauth_mode(google, kit("gmail")) == "vendor"
    assert app_integrations.oauth_mode(google, kit("google-calendar")) == "vendor"
    assert app_integrations.oauth_mode(google, kit("slack")) == "sandbox"
    half_discord = settings(discord_client_id="id", discord_client_secret="secret")
    assert app_integrations.oauth_mode(half_discord, kit("discord")) == "sandbox"  # no bot token
    discord = settings(
        discord_client_id="id", discord_client_secret="secret", discord_bot_token="bot"
    )
    assert app_integrations.oauth_mode(discord, kit("discord")) == "vendor"


def test_with_the_sandbox_off_an_unconfigured_vendor_is_not_installable() -> None:
    off = settings(integrations_sandbox=False, slack_client_id="id", slack_client_secret="s")
    entries = {e.toolkit: e for e in app_integrations.available(off)}
    assert app_integrations.oauth_mode(off, kit("gmail")) is None
    assert (entries["gmail"].installable, entries["gmail"].sandbox) == (False, False)
    assert entries["gmail"].requires == "operator OAuth client"
    assert entries["gmail"].operator_settings == [
        "TASKYARD_GOOGLE_CLIENT_ID",
        "TASKYARD_GOOGLE_CLIENT_SECRET",
    ]
    assert (entries["slack"].installable, entries["slack"].requires) == (True, None)
    assert (entries["stripe"].installable, entries["stripe"].requires) == (True, None)


def test_search_matches_names_descriptions_and_categories() -> None:
    found = [(e.toolkit, e.curated) for e in app_integrations.available(settings(), "email")]
    assert ("gmail", True) in found and ("smtp", True) in found and ("sendgrid", False) in found
    calendars = app_integrations.available(settings(), "google calendar")
    assert calendars[0].toolkit == "google-calendar"
    assert [e.toolkit for e in app_integrations.available(settings(), "CRM sales")] == [
        "hubspot",
        "pipedrive",
        "salesforce",
    ]
    assert app_integrations.available(settings(), "no such thing at all") == []
    assert all(e.curated for e in app_integrations.available(settings()))
