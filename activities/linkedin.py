"""LinkedIn activities: finish an OAuth connection, and perform one action through the provider.

Secrets stay here: the authorization code and the member's token are loaded and
decrypted inside the activity; workflows carry only the user, the account id and
the state's hash. With the Unipile provider the member's Unipile account is never
taken from the user: the activity asks Unipile for a hosted sign-in link (kept
encrypted until the callback sends the browser to it), and Unipile reports the
account it created to the API's notify route; the connect workflow then runs again
(``automation``) to read that account's profile. The provider is the one the
account was connected with (``sandbox`` or ``unipile``), so switching the setting
never sends a sandbox account's actions to a real provider.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from activities.errors import to_application_error
from activities.heartbeat import heartbeating
from connectors import linkedin, linkedin_sandbox
from connectors.errors import AuthError, ConnectorError, InvalidInputError, RateLimitedError
from connectors.linkedin import AlreadyConnectedError, ChallengeError
from connectors.linkedin_automation import ActionResult, UnipileClient, request_hosted_link
from engine.models import queues
from engine.models.linkedin import (
    AUTOMATION_NOTIFY_PATH,
    COMPLETE_CONNECTION,
    GOVERNOR_WORKFLOW,
    PERFORM_ACTION,
    ConnectInput,
    ConnectOutput,
    GovernorInput,
    LinkedInSettings,
    PerformInput,
    PerformOutput,
    governor_id,
)
from engine.models.runs import PREPARE_LINKEDIN_STEP, PrepareLinkedInInput, PrepareLinkedInOutput
from settings import Settings
from store import linkedin as store
from store import linkedin_links
from store.db import Database, utcnow
from store.linkedin import AutomationAccountInUse, LinkedInAccount, LinkedInOAuthState, StateError
from store.vault import Vault, VaultError

log = logging.getLogger("taskyard.linkedin")


class LinkedInActivities:
    """Holds the database, the vault and the provider settings."""

    def __init__(
        self, db: Database, vault: Vault, settings: Settings, *, heartbeat_interval: float = 1.0
    ) -> None:
        self.db = db
        self.vault = vault
        self.settings = settings
        self.heartbeat_interval = heartbeat_interval

    # ---- connecting ---------------------------------------------------------------------

    @activity.defn(name=COMPLETE_CONNECTION)
    async def complete_linkedin_connection(self, data: ConnectInput) -> ConnectOutput:
        if data.automation:
            return await self._automation_linked(data)
        try:
            return await self._connect(data)
        except AutomationAccountInUse as exc:
            await store.forget_code(self.db, data.state_hash)
            raise to_application_error(AuthError(exc.message)) from None
        except (StateError, VaultError) as exc:
            await store.forget_code(self.db, data.state_hash)
            raise to_application_error(AuthError(str(exc))) from None
        except ConnectorError as exc:
            if not exc.retryable:
                await store.forget_code(self.db, data.state_hash)
            raise to_application_error(exc) from None

    async def _connect(self, data: ConnectInput) -> ConnectOutput:
        state, code = await store.open_code(self.db, self.vault, data.state_hash)
        if state.user_id != data.user_id:
            raise StateError("the state belongs to another user")
        timeout = self.settings.http_timeout_seconds
        # Set only by an operator's global key (the legacy route); else the provider says.
        automation_id = state.automation_account_id
        linked = False
        if state.provider == "sandbox":
            token = linkedin_sandbox.exchange(code, data.state_hash)
            member = linkedin_sandbox.member(data.user_id)
            profile: dict[str, Any] = {
                "member_id": member.sub,
                "name": member.name,
                "email": member.email,
                "profile_url": member.profile_url,
                "connection_count": member.connection_count,
            }
            provider = "sandbox"
        else:
            secret = self.settings.linkedin_client_secret
            if not self.settings.linkedin_client_id or secret is None:
                raise AuthError("LinkedIn OAuth is not configured (client id and secret)")
            token = await linkedin.exchange_code(
                self.settings.linkedin_token_url,
                client_id=self.settings.linkedin_client_id,
                client_secret=secret.get_secret_value(),
                code=code,
                redirect_uri=state.redirect_uri,
                timeout=timeout,
            )
            info = await linkedin.userinfo(
                self.settings.linkedin_base_url, token.access_token, timeout=timeout
            )
            profile = {
                "member_id": info.sub,
                "name": info.name,
                "email": info.email,
                "picture_url": info.picture,
            }
            profile.update(await self._automation_profile(automation_id))
            provider = "unipile"
            if automation_id is None:
                linked = await self._hosted_link(state)
        expires = utcnow() + timedelta(seconds=token.expires_in) if token.expires_in else None
        account = await store.mark_connected(
            self.db,
            self.vault,
            user_id=data.user_id,
            state_digest=data.state_hash,
            provider=provider,
            token=token.model_dump(exclude_none=True),
            token_expires_at=expires,
            scopes=token.scope.split() or list(state.scopes),
            profile=profile,
            automation_account_id=automation_id,
        )
        return ConnectOutput(
            account_id=account.id,
            provider=provider,
            member_id=account.member_id,
            name=account.name,
            profile_url=account.profile_url,
            connection_count=account.connection_count,
            automation_link=linked,
        )

    async def _hosted_link(self, state: LinkedInOAuthState) -> bool:
        """Ask Unipile for a hosted sign-in link whose notify URL carries a secret state of
        ours; False when it cannot (no key, or Unipile failed: the member stays connected
        without automation and can connect again)."""
        key = self.settings.linkedin_automation_api_key
        if key is None:
            return False
        secret, name = linkedin_links.new_state()
        base = self.settings.linkedin_redirect_base_url or self.settings.api_base_url
        notify = f"{base.rstrip('/')}{AUTOMATION_NOTIFY_PATH}?{urlencode({'state': secret})}"
        expires = utcnow() + timedelta(seconds=self.settings.linkedin_automation_link_ttl_seconds)
        back = state.return_url
        if back and not self.settings.return_url_allowed(back):
            back = None  # the operator's origins changed since the setup
        try:
            url = await request_hosted_link(
                self.settings.linkedin_automation_base_url,
                key.get_secret_value(),
                name=name,
                notify_url=notify,
                expires_at=expires,
                success_redirect_url=_with_query(back, linkedin="connected") if back else None,
                failure_redirect_url=(
                    _with_query(back, linkedin="error", error="automation_failed") if back else None
                ),
                timeout=self.settings.http_timeout_seconds,
            )
        except ConnectorError as exc:
            log.warning("could not create a Unipile hosted sign-in link: %s", exc)
            return False
        await linkedin_links.create(
            self.db,
            self.vault,
            user_id=state.user_id,
            oauth_state_hash=state.state_hash,
            state=secret,
            name=name,
            link_url=url,
            expires_at=expires,
        )
        return True

    async def _automation_linked(self, data: ConnectInput) -> ConnectOutput:
        """After the provider reported the member's account: read its profile (best effort)."""
        link = await linkedin_links.get(self.db, data.state_hash)
        account = await store.get_account(self.db, data.user_id)
        if link is None or link.user_id != data.user_id or link.account_id is None:
            raise to_application_error(AuthError("no provider account was reported"))
        if account is None:
            raise to_application_error(AuthError("the LinkedIn account is not connected"))
        profile = await self._automation_profile(link.account_id)
        await store.save_automation_profile(self.db, data.user_id, link.account_id, profile)
        return ConnectOutput(
            account_id=account.id,
            provider=account.provider,
            member_id=account.member_id,
            name=account.name,
            profile_url=profile.get("profile_url") or account.profile_url,
            connection_count=profile.get("connection_count") or account.connection_count,
        )

    async def _automation_profile(self, automation_id: str | None) -> dict[str, Any]:
        """Profile URL and relation count: OpenID userinfo has neither, Unipile's ``me`` has."""
        client = self._unipile(automation_id)
        if client is None:
            return {}
        try:
            me = await client.profile("me")
        except ConnectorError as exc:
            activity.logger.warning("could not read the member's Unipile profile: %s", exc)
            return {}
        count = me.get("relations_count")
        return {
            "profile_url": me.get("profile_url")
            or (
                f"https://www.linkedin.com/in/{me['public_identifier']}"
                if me.get("public_identifier")
                else None
            ),
            "connection_count": int(count) if isinstance(count, int | float) else None,
        }

    def _unipile(self, automation_id: str | None) -> UnipileClient | None:
        key = self.settings.linkedin_automation_api_key
        if not automation_id or key is None:
            return None
        return UnipileClient(
            base_url=self.settings.linkedin_automation_base_url,
            api_key=key.get_secret_value(),
            account_id=automation_id,
            timeout=self.settings.http_timeout_seconds,
        )

    # ---- actions ------------------------------------------------------------------------

    @activity.defn(name=PREPARE_LINKEDIN_STEP)
    async def prepare_linkedin_step(self, data: PrepareLinkedInInput) -> PrepareLinkedInOutput:
        """A local activity of a workflow run's ``linkedin_action`` step: the user's connected
        account, and its governor made sure to run (settings from the database)."""
        account = await store.get_account(self.db, data.user_id)
        if account is None or account.status != "connected":
            raise ApplicationError(
                "LinkedIn is not connected for this user", type="LinkedInNotConnected"
            )
        task_queue = queues.task_queue(self.settings.task_queue_prefix, queues.LINKEDIN)
        await activity.client().start_workflow(
            GOVERNOR_WORKFLOW,
            GovernorInput(
                account_id=account.id,
                settings=LinkedInSettings.model_validate(account.settings or {}),
            ),
            id=governor_id(account.id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return PrepareLinkedInOutput(
            account_id=account.id, provider=account.provider, task_queue=task_queue
        )

    @activity.defn(name=PERFORM_ACTION)
    async def perform_linkedin_action(self, data: PerformInput) -> PerformOutput:
        try:
            account = await store.get_account(self.db, data.user_id)
            if account is None or account.id != data.account_id or account.status != "connected":
                raise AuthError("the LinkedIn account is not connected")
            result = await heartbeating(self._perform(account, data), self.heartbeat_interval)
        except RateLimitedError as exc:
            return PerformOutput(
                outcome="limit", reason=exc.message, retry_after_seconds=exc.retry_after
            )
        except ChallengeError as exc:
            return PerformOutput(outcome="challenge", reason=exc.message)
        except AlreadyConnectedError as exc:
            if not data.already_connected_ok:
                raise to_application_error(exc) from None
            return PerformOutput(
                outcome="completed", summary="already connected", details={"alreadyConnected": True}
            )
        except Exception as exc:
            raise to_application_error(exc) from None
        return PerformOutput(
            outcome="completed",
            summary=result.summary,
            remote_id=result.remote_id,
            details=result.details,
        )

    async def _perform(self, account: LinkedInAccount, data: PerformInput) -> ActionResult:
        kind, url = data.action_type, data.profile_url
        if account.provider == "sandbox":
            return linkedin_sandbox.perform(
                kind,
                url,
                attempt=data.attempt,
                note=data.note,
                message=data.message,
                post_url=data.post_url,
            )
        client = self._unipile(account.automation_account_id)
        if client is None:
            raise AuthError(
                "no automation account is linked to this LinkedIn account (or no provider key)"
            )
        if kind == "sendConnectionRequest":
            return await client.send_invitation(url, data.note)
        if kind == "sendMessage":
            return await client.send_message(url, data.message or "")
        if kind == "viewProfile":
            return await client.view_profile(url)
        if kind == "followProfile":
            return await client.follow(url)
        if kind == "likePost":
            if not data.post_url:
                raise InvalidInputError("likePost needs a postUrl")
            return await client.like_post(data.post_url)
        if kind == "withdrawConnectionRequest":
            return await client.withdraw_invitation(url)
        raise InvalidInputError(f"unknown action {kind!r}")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))
