"""Connecting a user's LinkedIn account (the user-integrations API): status, OAuth start and
callback, disconnect.

``start_setup`` stores a single-use, expiring state (hashed) and returns Taskyard's
start URL for it; ``begin`` (that URL, opened in the member's browser) binds the
state to the browser (``api.browser_binding``) and sends it to the page the member
approves: LinkedIn's authorization page, or with the ``sandbox`` provider
Taskyard's own consent page, which redirects back exactly as LinkedIn would.
``finish`` checks the browser, consumes the state, keeps the code encrypted on it,
runs the connect workflow (the exchange happens on a worker) and says where to send
the member next: Unipile's hosted sign-in when the provider account is still to be
linked, else the registered ``returnUrl`` (if the operator's origins still allow it).

``returnUrl`` must be on an origin the operator allows (``TASKYARD_OAUTH_RETURN_ORIGINS``)
and the automation provider's account id is never taken from a user: Unipile reports
it (``api.linkedin.automation``); only an operator's global key may name one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, FailureError

from api import browser_binding
from api.errors import BadRequest, NotFound, Unavailable, Unprocessable
from api.linkedin.models import (
    IntegrationsData,
    IntegrationSummary,
    LinkedInStatus,
    SetupLinkedIn,
    SetupStarted,
    WebhooksStatus,
)
from api.state import Services
from engine.models import queues
from engine.services.linkedin import (
    DEFAULT_SCOPES,
    SANDBOX_CLIENT_ID,
    disconnect_governor,
    run_connect,
    sandbox_consent_code,
    sign_in_url,
)
from store import linkedin as store
from store import linkedin_links
from store.db import as_utc
from store.webhooks import webhook_summary

CALLBACK_PATH = "/api/v2/users/integrations/linkedin/callback"
START_PATH = "/api/v2/users/integrations/linkedin/start"
COOKIE_PATH = "/api/v2/users/integrations/linkedin"
SETUP_PATH = "/api/v2/users/integrations/linkedin/setup"
SETUP_LINK_SECONDS = 30 * 60
SETUP_SCOPE = "linkedin-setup"
SANDBOX_AUTHORIZE_PATH = "/api/v2/linkedin/sandbox/authorize"
INTEGRATIONS = 2  # LinkedIn and webhooks


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def setup_url(s: Services, user_id: str) -> str:
    """A link a browser can open to connect the user's account: a short-lived token, signed
    for this user, that starts the sign-in as ``POST …/linkedin`` does."""
    expires = int(time.time()) + SETUP_LINK_SECONDS
    token = s.jobs.tokens.sign(str(expires).encode(), owner=user_id, scope=SETUP_SCOPE)
    return f"{s.settings.api_base_url}{SETUP_PATH}?{urlencode({'user': user_id, 'token': token})}"


def setup_user(s: Services, user_id: str, token: str) -> str:
    """The user a setup link was signed for, if it still holds (else 400)."""
    try:
        expires = int(s.jobs.tokens.open(token, owner=user_id, scope=SETUP_SCOPE, field="token"))
    except ValueError:
        expires = 0
    if expires < time.time():
        raise BadRequest("This setup link is invalid or has expired", code="INVALID_SETUP_LINK")
    return user_id


def linkedin_status(
    account: store.LinkedInAccount | None, setup: str | None = None
) -> LinkedInStatus:
    if account is None or account.status != "connected":
        return LinkedInStatus(connected=False, setupUrl=setup)
    return LinkedInStatus(
        connected=True,
        profileUrl=account.profile_url,
        name=account.name,
        connectionCount=account.connection_count,
        connectedAt=iso(account.connected_at),
        provider=account.provider,
    )


async def integrations(s: Services, user_id: str) -> IntegrationsData:
    """The user's LinkedIn and webhook status and how complete the setup is."""
    status = linkedin_status(await store.get_account(s.db, user_id), setup_url(s, user_id))
    hooks = await webhook_summary(s.db, user_id)
    webhooks = WebhooksStatus(
        configured=hooks.configured, endpoints=hooks.endpoints, status=hooks.status
    )
    connected = int(status.connected) + int(hooks.configured and hooks.status == "active")
    return IntegrationsData(
        linkedin=status,
        webhooks=webhooks,
        summary=IntegrationSummary(
            total=INTEGRATIONS,
            connected=connected,
            completionPercentage=round(100 * connected / INTEGRATIONS),
        ),
    )


async def require_user_exists(s: Services, user_id: str) -> None:
    if not await store.user_exists(s.db, user_id):
        raise NotFound("User not found", code="USER_NOT_FOUND")


def flow_base(s: Services) -> str:
    """Where the member's browser meets Taskyard during a sign-in (start and callback share
    it, so the start URL's cookie reaches the callback)."""
    return (s.settings.linkedin_redirect_base_url or s.settings.api_base_url).rstrip("/")


def redirect_uri(s: Services) -> str:
    return flow_base(s) + CALLBACK_PATH


def check_setup(s: Services, body: SetupLinkedIn, *, operator: bool) -> None:
    """What a setup may ask for: a returnUrl on an allowed origin, and a provider account
    only from an operator (a user's would let them act as another customer's account)."""
    if body.automationAccountId is not None and not operator:
        raise Unprocessable(
            "automationAccountId cannot be set with a user key: the automation provider "
            "reports the account the member signs in with",
            code="AUTOMATION_ACCOUNT_FROM_PROVIDER",
        )
    if body.returnUrl is not None and not s.settings.return_url_allowed(body.returnUrl):
        raise Unprocessable(
            "returnUrl is not on an origin this server allows (TASKYARD_OAUTH_RETURN_ORIGINS)",
            code="RETURN_URL_NOT_ALLOWED",
        )


async def start_setup(
    s: Services, user_id: str, body: SetupLinkedIn, *, operator: bool = False
) -> SetupStarted:
    """A start URL with a fresh state; refused while an account is connected."""
    check_setup(s, body, operator=operator)
    await require_user_exists(s, user_id)
    account = await store.get_account(s.db, user_id)
    if account is not None and account.status == "connected":
        raise BadRequest(
            "LinkedIn account is already connected",
            code="LINKEDIN_ALREADY_CONNECTED",
            details={"profileUrl": account.profile_url, "connectedAt": iso(account.connected_at)},
        )
    cfg = s.settings
    sandbox = cfg.linkedin_provider == "sandbox"
    if not sandbox and (not cfg.linkedin_client_id or cfg.linkedin_client_secret is None):
        raise Unavailable(
            "LinkedIn sign-in is not configured on this server", code="LINKEDIN_NOT_CONFIGURED"
        )
    if body.automationAccountId is not None:
        owner = await store.automation_owner(s.db, body.automationAccountId)
        if owner is not None and owner != user_id:
            raise store.AutomationAccountInUse()
    scopes = body.scopes or list(DEFAULT_SCOPES)
    callback = redirect_uri(s)
    state, expires_at = await store.create_state(
        s.db,
        user_id=user_id,
        provider="sandbox" if sandbox else "linkedin",
        redirect_uri=callback,
        return_url=body.returnUrl,
        scopes=scopes,
        automation_account_id=body.automationAccountId,
        ttl_seconds=cfg.linkedin_oauth_state_ttl_seconds,
    )
    start = f"{flow_base(s)}{START_PATH}?{urlencode({'state': state})}"
    return SetupStarted(authUrl=start, state=state, expiresAt=iso(expires_at) or "")


def browser_mismatch() -> BadRequest:
    return BadRequest(
        "This sign-in was started in another browser (or its cookie is missing); "
        "start again from the app",
        code="OAUTH_BROWSER_MISMATCH",
    )


async def open_state(s: Services, state: str) -> store.LinkedInOAuthState:
    try:
        return await store.open_state(s.db, state)
    except store.StateError as exc:
        raise BadRequest(f"Invalid OAuth state: {exc}", code="INVALID_OAUTH_STATE") from exc


async def begin(s: Services, state: str, nonce: str | None) -> tuple[str, str | None, int]:
    """Bind a state to this browser and say where its sign-in page is: (that URL, a new
    nonce to set as the cookie or None if the browser already holds it, seconds left)."""
    row = await open_state(s, state)
    if row.browser_hash is not None:
        if not browser_binding.matches(nonce, row.browser_hash):
            raise browser_mismatch()
        nonce = None
    else:
        nonce = browser_binding.new_nonce()
        if not await store.bind_browser(s.db, row.state_hash, browser_binding.nonce_hash(nonce)):
            raise browser_mismatch()
    cfg = s.settings
    sandbox = row.provider == "sandbox"
    if not sandbox and not cfg.linkedin_client_id:
        raise Unavailable(
            "LinkedIn sign-in is not configured on this server", code="LINKEDIN_NOT_CONFIGURED"
        )
    url = sign_in_url(
        cfg.api_base_url + SANDBOX_AUTHORIZE_PATH if sandbox else cfg.linkedin_auth_url,
        client_id=SANDBOX_CLIENT_ID if sandbox else cfg.linkedin_client_id,
        redirect_uri=row.redirect_uri,
        state=state,
        scopes=list(row.scopes),
    )
    left = (as_utc(row.expires_at) - datetime.now(UTC)).total_seconds()  # type: ignore[operator]
    return url, nonce, int(left) + 1


def failure_message(exc: WorkflowFailureError) -> str:
    """The provider's reason, from the activity failure under the workflow failure."""
    cause: BaseException | None = exc.cause
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or exc)


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def return_to(s: Services, row: store.LinkedInOAuthState) -> str | None:
    """The registered returnUrl, while the operator's origins still allow it."""
    if row.return_url and s.settings.return_url_allowed(row.return_url):
        return row.return_url
    return None


async def finish(
    s: Services, params: dict[str, str], nonce: str | None
) -> tuple[str | None, dict[str, Any]]:
    """Complete a sign-in from LinkedIn's redirect in the browser that started it: (where
    to send the member, result body). A state that is unknown, used, expired or from
    another browser is a 400, never a redirect."""
    state = params.get("state") or ""
    code = params.get("code")
    denied = params.get("error")
    started = await open_state(s, state)
    if not browser_binding.matches(nonce, started.browser_hash):
        raise browser_mismatch()
    try:
        row = await store.consume_state(s.db, s.vault, state, None if denied else code)
    except store.StateError as exc:
        raise BadRequest(f"Invalid OAuth state: {exc}", code="INVALID_OAUTH_STATE") from exc
    if denied or not code:
        reason = params.get("error_description") or denied or "no authorization code"
        error = denied or "missing_code"
        body = {
            "success": False,
            "userId": row.user_id,
            "error": {"code": error, "message": reason},
        }
        if back := return_to(s, row):
            return with_query(back, linkedin="error", error=error), body
        raise BadRequest(
            f"LinkedIn sign-in was not completed: {reason}", code="LINKEDIN_AUTH_DENIED"
        )
    try:
        out = await run_connect(
            s.temporal,
            user_id=row.user_id,
            state_hash=row.state_hash,
            queue=queues.task_queue(s.settings.task_queue_prefix, queues.LINKEDIN),
        )
    except WorkflowFailureError as exc:
        message = failure_message(exc)
        if back := return_to(s, row):
            body = {
                "success": False,
                "userId": row.user_id,
                "error": {"code": "connect_failed", "message": message},
            }
            return with_query(back, linkedin="error", error="connect_failed"), body
        raise BadRequest(
            f"LinkedIn connection failed: {message}", code="LINKEDIN_CONNECT_FAILED"
        ) from exc
    status = LinkedInStatus(
        connected=True,
        profileUrl=out.profile_url,
        name=out.name,
        connectionCount=out.connection_count,
        provider=out.provider,
    )
    body = {
        "success": True,
        "userId": row.user_id,
        "data": {"linkedin": status.model_dump(exclude_none=True)},
    }
    if out.automation_link:
        # The member now signs in at Unipile's hosted page; it sends them to the returnUrl.
        link = await linkedin_links.pending_link(s.db, s.vault, row.state_hash)
        if link is not None:
            return link, body
    if back := return_to(s, row):
        return with_query(back, linkedin="connected"), body
    return None, body


async def sandbox_consent(s: Services, params: dict[str, str]) -> str:
    """The sandbox's authorization page: approve at once and redirect like LinkedIn does."""
    if s.settings.linkedin_provider != "sandbox":
        raise NotFound("The sandbox LinkedIn provider is not enabled", code="NOT_FOUND")
    state = params.get("state") or ""
    client_id = params.get("client_id")
    if params.get("response_type") != "code" or client_id != SANDBOX_CLIENT_ID:
        raise BadRequest(
            "Expected response_type=code and the sandbox client_id", code="INVALID_REQUEST"
        )
    row = await store.peek_state(s.db, state)
    if row is None or row.provider != "sandbox" or row.used_at is not None:
        raise BadRequest("Unknown or used state", code="INVALID_OAUTH_STATE")
    if as_utc(row.expires_at) <= datetime.now(UTC):  # type: ignore[operator]
        raise BadRequest("This sign-in link has expired", code="INVALID_OAUTH_STATE")
    if params.get("redirect_uri") != row.redirect_uri:
        raise BadRequest("redirect_uri does not match the one registered", code="INVALID_REQUEST")
    return with_query(row.redirect_uri, code=sandbox_consent_code(state), state=state)


async def disconnect(s: Services, user_id: str) -> LinkedInStatus:
    account = await store.disconnect(s.db, user_id)
    if account is None:
        raise NotFound("LinkedIn is not connected", code="LINKEDIN_NOT_CONNECTED")
    await disconnect_governor(s.temporal, account.id)
    return LinkedInStatus(connected=False)
