"""The tool-execution activity: load sealed secrets, call one connector action.

A sandbox connection's action runs the same connector with a ``SandboxRecorder``,
so its sandbox vendor answers and records instead of the network.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.errors import to_application_error
from activities.heartbeat import heartbeating
from activities.rate_limits import ProviderLimits, account_of
from activities.sandbox import SandboxRecorder
from activities.secrets import SecretStore
from activities.tracing import vendor_span
from connectors.base import ActionContext
from connectors.errors import InvalidInputError
from connectors.registry import find_tool
from engine.models.tools import RUN_TOOL_ACTION, RunToolInput

# Longer waits for a provider budget go back to Temporal as a retry after that delay.
MAX_BUDGET_WAIT_SECONDS = 20.0


def merge_params(params: dict[str, Any], sealed: dict[str, Any]) -> dict[str, Any]:
    """Put sealed values back: nested dicts (such as headers) merge, others replace."""
    merged = dict(params)
    for key, value in sealed.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


class ToolActivities:
    """Holds what the activity needs: the secret store, vendor base URLs, outbound policy."""

    def __init__(
        self,
        secrets: SecretStore,
        *,
        base_urls: dict[str, str],
        allow_private_urls: bool,
        heartbeat_interval: float = 1.0,
        limits: ProviderLimits | None = None,
    ) -> None:
        self.secrets = secrets
        self.base_urls = base_urls
        self.allow_private_urls = allow_private_urls
        self.heartbeat_interval = heartbeat_interval
        self.limits = limits  # provider budgets shared by every worker (Slack, Gmail)

    @activity.defn(name=RUN_TOOL_ACTION)
    async def run_tool_action(self, data: RunToolInput) -> dict[str, Any]:
        found = find_tool(data.tool_name)
        try:
            if found is None:
                raise InvalidInputError(f"unknown tool {data.tool_name!r}")
            connector, action = found
            params = data.params
            if data.sealed_secret_id:
                sealed = await self.secrets.open_sealed(data.user_id, data.sealed_secret_id)
                params = merge_params(params, sealed)
            credentials: dict[str, Any] = {}
            sandbox: SandboxRecorder | None = None
            info = activity.info()
            if data.credential_id:
                credentials = await self.secrets.open_credential(data.user_id, data.credential_id)
                # The connection's own record decides, never the workflow input: a sandbox
                # connection's calls stay in the sandbox whatever the settings say now.
                row = await self.secrets.sandbox_connection(data.user_id, data.credential_id)
                if row is not None:
                    sandbox = SandboxRecorder(self.secrets.db, row, info.workflow_id)
            model = action.input_model.model_validate(params)
            if self.limits is not None:
                await heartbeating(
                    self.limits.for_tool(
                        connector.tool_name(action.name),
                        params,
                        account_of(credentials, data.credential_id),
                        max_wait_seconds=MAX_BUDGET_WAIT_SECONDS,
                    ),
                    self.heartbeat_interval,
                )
            ctx = ActionContext(
                credentials=credentials,
                config=data.config,
                base_urls=self.base_urls,
                idempotency_key=f"{info.workflow_id}:{info.activity_id}",
                allow_private_urls=self.allow_private_urls,
                heartbeat=activity.heartbeat,
                sandbox=sandbox,
            )
            # The vendor call as a span of its own (HTTP connectors add theirs beneath it).
            with vendor_span(
                f"{connector.type} {data.tool_name.upper()}",
                {"taskyard.connector": connector.type, "taskyard.tool": data.tool_name.upper()},
            ):
                output = await heartbeating(action.handler(ctx, model), self.heartbeat_interval)
            result = output.model_dump(mode="json")
            # Refreshed OAuth tokens are stored here and never enter workflow history.
            refreshed = result.pop("refreshed_credentials", None)
            if refreshed and data.credential_id:
                await self.secrets.save_refreshed(data.user_id, data.credential_id, refreshed)
        except Exception as exc:
            raise to_application_error(exc) from None
        return result
