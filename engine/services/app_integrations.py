"""How app integrations connect in this deployment: the vendor's OAuth, or Taskyard's sandbox.

An OAuth toolkit connects through its vendor when the operator has configured
that vendor's client (``Settings.oauth_clients``). Without one it connects
through the sandbox — Taskyard's own consent page, sandbox tokens, and sandbox
vendors that record instead of sending — unless the operator switched the
sandbox off (``TASKYARD_INTEGRATIONS_SANDBOX=false``), in which case it cannot be
installed. The choice is stored on each connection (``provider``), so it never
changes under an existing one.

The catalog ``available`` lists is Taskyard's connectors (curated), plus, when
searching, well-known toolkits without a connector (``toolkit_directory``).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel

from connectors import oauth_sandbox
from engine.services import catalog
from engine.services.catalog import AuthType
from engine.services.toolkit_directory import DIRECTORY
from settings import Settings
from store import connections
from store.db import Database

Mode = Literal["vendor", "sandbox"]
SANDBOX_CLIENT_ID = oauth_sandbox.CLIENT_ID
REQUIRES_CLIENT = "operator OAuth client"
REQUIRES_CONNECTOR = "a Taskyard connector"


def callback_url(settings: Settings, app_id: str) -> str:
    """Where the vendor (or the sandbox) sends the end user back: the redirect URI to register."""
    return f"{settings.api_base_url}/v1/{app_id}/integrations/callback"


def start_url(settings: Settings, app_id: str, state: str) -> str:
    """The ``authUrl`` connect answers: Taskyard's start URL, which binds the state to the
    browser that opens it and then redirects to the consent page."""
    return f"{settings.api_base_url}/v1/{app_id}/integrations/start?{urlencode({'state': state})}"


def sandbox_authorize_url(settings: Settings, app_id: str) -> str:
    return f"{settings.api_base_url}/v1/{app_id}/integrations/sandbox/authorize"


def oauth_mode(settings: Settings, kit: catalog.Toolkit) -> Mode | None:
    """How ``kit``'s accounts connect through OAuth now; None if they cannot."""
    if kit.oauth_client is None:
        return None
    if kit.oauth_client in settings.oauth_clients():
        return "vendor"
    return "sandbox" if settings.integrations_sandbox else None


def operator_settings(kit: catalog.Toolkit) -> list[str]:
    """The settings an operator sets to connect ``kit`` through its real vendor."""
    if kit.oauth_client is None:
        return []
    prefix = f"TASKYARD_{kit.oauth_client.upper()}"
    names = [f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET"]
    if kit.oauth_client == "discord":
        names.append(f"{prefix}_BOT_TOKEN")
    return names


class Entry(BaseModel):
    """A toolkit as ``available`` shows it, with what this deployment can do with it."""

    toolkit: str
    name: str
    description: str
    categories: tuple[str, ...]
    curated: bool
    auth_type: AuthType
    installable: bool
    sandbox: bool  # connecting it now goes through the sandbox
    requires: str | None  # what the real vendor still needs, if anything
    operator_settings: list[str]


def entry(settings: Settings, kit: catalog.Toolkit) -> Entry:
    mode = oauth_mode(settings, kit)
    needs_client = kit.auth_type == "oauth2" and mode != "vendor"
    return Entry(
        toolkit=kit.type,
        name=kit.name,
        description=kit.description,
        categories=kit.categories,
        curated=True,
        auth_type=kit.auth_type,
        installable=kit.auth_type != "oauth2" or mode is not None,
        sandbox=mode == "sandbox",
        requires=REQUIRES_CLIENT if needs_client else None,
        operator_settings=operator_settings(kit) if needs_client else [],
    )


def available(settings: Settings, search: str | None = None) -> list[Entry]:
    """The curated toolkits (all, or those matching ``search``), then — only when
    searching — matching toolkits Taskyard has no connector for."""
    found = [entry(settings, kit) for kit in catalog.toolkits(search)]
    if not search:
        return found
    curated = {e.toolkit for e in found}
    for item in DIRECTORY:
        if item.toolkit in curated:
            continue
        if catalog.matches(search, item.toolkit, item.name, item.description, *item.categories):
            found.append(
                Entry(
                    toolkit=item.toolkit,
                    name=item.name,
                    description=item.description,
                    categories=item.categories,
                    curated=False,
                    auth_type=item.auth_type,
                    installable=False,
                    sandbox=False,
                    requires=REQUIRES_CONNECTOR,
                    operator_settings=[],
                )
            )
    return found


def uncurated(name: str) -> str | None:
    """The display name of a catalog toolkit Taskyard has no connector for."""
    return next((d.name for d in DIRECTORY if d.toolkit == name), None)


def authorization_url(
    settings: Settings,
    kit: catalog.Toolkit,
    mode: Mode,
    *,
    app_id: str,
    state: str,
    scopes: list[str],
) -> str:
    """The page an end user approves the connection on: the vendor's, or the sandbox's."""
    if mode == "sandbox":
        client_id, auth_url = SANDBOX_CLIENT_ID, sandbox_authorize_url(settings, app_id)
    else:
        assert kit.oauth_client is not None
        client_id, auth_url = settings.oauth_clients()[kit.oauth_client][0], None
    return catalog.authorization_url(
        kit,
        settings.base_urls(),
        client_id=client_id,
        redirect_uri=callback_url(settings, app_id),
        state=state,
        scopes=scopes,
        auth_url=auth_url,
    )


async def sandbox_consent(
    db: Database, app_id: str, state: str, *, approve: bool
) -> dict[str, str]:
    """What the sandbox consent page hands back for a pending sandbox connection's
    ``state``: ``{code, state}`` when approved, ``{error: access_denied, state}`` when not.
    An unknown, used, expired or vendor state raises ``StateError``."""
    _request, row = await connections.pending_request(db, app_id, state)
    if row.provider != "sandbox":
        raise connections.StateError("not a sandbox connection request")
    if not approve:
        return {"error": "access_denied", "state": state}
    return {"code": oauth_sandbox.consent_code(state), "state": state}
