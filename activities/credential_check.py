"""The credential-test activity: open a credential and make its connector's cheap test call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio import activity

from activities.errors import to_application_error
from activities.heartbeat import heartbeating
from activities.secrets import SecretStore
from connectors.base import ActionContext
from connectors.errors import InvalidInputError
from connectors.registry import get_connector
from engine.models.tools import TEST_CREDENTIAL, TestCredentialInput


class CredentialTestActivities:
    def __init__(
        self,
        secrets: SecretStore,
        *,
        base_urls: Mapping[str, str],
        allow_private_urls: bool,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.secrets = secrets
        self.base_urls = dict(base_urls)
        self.allow_private_urls = allow_private_urls
        self.timeout = timeout_seconds

    @activity.defn(name=TEST_CREDENTIAL)
    async def test_credential(self, data: TestCredentialInput) -> dict[str, Any]:
        """What the vendor says about the credential (account, team, …), never the secret."""
        try:
            connector = get_connector(data.provider)
            if connector is None or connector.test is None:
                raise InvalidInputError(f"{data.provider} has no test call")
            credentials = await self.secrets.open_credential(data.user_id, data.credential_id)
            ctx = ActionContext(
                credentials=credentials,
                base_urls=self.base_urls,
                allow_private_urls=self.allow_private_urls,
                timeout_seconds=self.timeout,
                heartbeat=activity.heartbeat,
            )
            details = dict(await heartbeating(connector.test(ctx)))
            refreshed = details.pop("refreshed_credentials", None)
            if refreshed:
                await self.secrets.save_refreshed(data.user_id, data.credential_id, refreshed)
        except Exception as exc:
            raise to_application_error(exc) from None
        return details
