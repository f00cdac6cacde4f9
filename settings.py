"""Taskyard's one settings object, read from ``TASKYARD_*`` variables and ``.env``."""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TASKYARD_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Literal["dev", "test", "production"] = "dev"
    state_dir: Path = Path(".taskyard")

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = ""
    # Largest request body a route accepts unless it has its own limit (the lead import).
    request_max_bytes: int = 2 * 1024 * 1024
    admin_key: SecretStr | None = None
    rate_limit_per_minute: int = 100
    auth_cache_seconds: float = 2.0  # single-process only; off when redis_url is set
    redis_url: str | None = None
    # Several API processes without Redis each keep their own key cache and rate counts;
    # server.py refuses ``--workers N`` then unless this says the operator accepts that.
    allow_workers_without_redis: bool = False
    invalid_key_attempts_per_minute: int = 20  # per client address, then 429 without a lookup
    max_active_keys_per_user: int = 50
    # Origins (scheme://host[:port], comma-separated) an OAuth flow may send a browser back
    # to: LinkedIn's returnUrl and apps' redirectUrls. Empty: any http(s) origin outside
    # production; production then refuses every return URL until origins are listed.
    oauth_return_origins: str = ""
    # Longest lifetime (exp - iat, and exp - now) an app's end-user JWT may have.
    app_jwt_max_lifetime_seconds: int = 24 * 3600

    # Observability (docs/observability.md). Traces are configured by the standard OTEL_*
    # variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME) and
    # are off when none is set.
    log_format: Literal["json", "text"] = "json"  # one JSON object per line, or plain lines
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    api_metrics: bool = True  # GET /metrics on the API port (Prometheus text format)
    worker_metrics_port: int | None = None  # /metrics, /livez, /readyz of a worker; off if unset
    worker_metrics_host: str = "127.0.0.1"

    # Storage and encryption
    database_url: str = ""
    master_keys: SecretStr | None = None  # "kid:base64key,kid2:base64key"; the first encrypts

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: SecretStr | None = None
    temporal_ui_port: int = 8233
    # Every Temporal payload (workflow and activity inputs and results, memo, queries,
    # signals, failure messages and details) is encrypted with the master-key ring before it
    # leaves the process; off keeps plain JSON payloads. Every client and worker of one
    # namespace must agree (docs/deploy.md).
    payload_encryption: bool = True
    # Browser origins of the Temporal UI allowed to call the codec endpoint (comma separated);
    # empty: the dev server's UI, http://127.0.0.1:<ui port> and http://localhost:<ui port>.
    temporal_ui_origin: str = ""
    task_queue_prefix: str = "taskyard"
    activity_heartbeat_timeout_seconds: float = 10.0

    # Outbound traffic
    allow_private_urls: bool = False
    http_timeout_seconds: float = 30.0

    # Workflows: a run continues as new past this many history events
    workflow_history_limit: int = 8000

    # Webhooks
    webhook_timeout_seconds: float = 10.0  # one delivery attempt; only a 2xx within it succeeds
    webhook_max_backoff_seconds: float = 3600.0  # cap on one back-off wait (and on Retry-After)
    webhook_error_after_failures: int = 3  # consecutive failed attempts before status "error"
    webhook_disable_after_seconds: float = 3 * 24 * 3600.0  # continuous failure → disabled
    webhook_secret_overlap_seconds: float = 24 * 3600.0  # old secret keeps signing after rotate

    # Vendor base URLs (tests point the official SDKs at local servers)
    slack_base_url: str = "https://slack.com/api/"
    stripe_base_url: str = "https://api.stripe.com"
    discord_base_url: str = "https://discord.com/api/v10"
    gmail_base_url: str = "https://gmail.googleapis.com"
    google_calendar_base_url: str = "https://www.googleapis.com/calendar/v3"
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    slack_auth_url: str = "https://slack.com/oauth/v2/authorize"
    slack_token_url: str = "https://slack.com/api/oauth.v2.access"
    discord_auth_url: str = "https://discord.com/oauth2/authorize"
    discord_token_url: str = "https://discord.com/api/oauth2/token"
    linkedin_base_url: str = "https://api.linkedin.com"
    linkedin_auth_url: str = "https://www.linkedin.com/oauth/v2/authorization"
    linkedin_token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"

    # LinkedIn automation. "sandbox" simulates LinkedIn so a new user can try
    # everything; "unipile" speaks the Unipile v2 API for actions, LinkedIn OAuth to connect.
    linkedin_provider: Literal["sandbox", "unipile"] = "sandbox"
    linkedin_client_id: str = ""
    linkedin_client_secret: SecretStr | None = None
    linkedin_redirect_base_url: str = ""  # where LinkedIn sends users back; api_base_url if empty
    linkedin_oauth_state_ttl_seconds: int = 600
    linkedin_automation_base_url: str = "https://api.unipile.com"
    linkedin_automation_api_key: SecretStr | None = None
    # How long the Unipile hosted sign-in link (and its notify state) stays usable.
    linkedin_automation_link_ttl_seconds: int = 1800
    # Campaigns. Unipile authenticates its webhooks with a header you configure on the
    # webhook (``Unipile-Auth: <secret>``); set the same value here, or the events route
    # refuses every event. Providers without webhooks (the sandbox) are polled.
    linkedin_webhook_secret: SecretStr | None = None
    linkedin_poll_max_interval_seconds: float = 3600.0
    campaign_max_targets: int = 10_000  # enrollments in one campaign
    campaign_start_concurrency: int = 32  # enrollment starts in flight per request
    campaign_history_limit: int = 1000  # an enrollment continues as new past this many events
    # Workflows' inbound trigger URLs: the largest body that starts an execution.
    workflow_trigger_max_bytes: int = 256 * 1024

    # App integrations: the platform's OAuth client per vendor, state and refresh timing.
    # An OAuth toolkit whose vendor client is not set connects through Taskyard's sandbox
    # (its own consent page; sends recorded, never delivered) unless the sandbox is off.
    integrations_sandbox: bool = True
    google_client_id: str = ""  # Gmail and Google Calendar
    google_client_secret: SecretStr | None = None
    slack_client_id: str = ""
    slack_client_secret: SecretStr | None = None
    discord_client_id: str = ""
    discord_client_secret: SecretStr | None = None
    discord_bot_token: SecretStr | None = None  # the Discord application's bot acts with it
    oauth_state_ttl_seconds: int = 600
    connection_refresh_margin_seconds: int = 300

    # Leads and enrichment
    hunter_base_url: str = "https://api.hunter.io/v2"
    pdl_base_url: str = "https://api.peopledatalabs.com/v5"
    hunter_api_key: SecretStr | None = None  # operator-wide fallback when a batch names no key
    pdl_api_key: SecretStr | None = None
    hunter_requests_per_second: float = 10.0  # Hunter's documented Email Verifier limit
    pdl_bulk_size: int = 100  # PDL bulk enrichment takes 1-100 requests per call
    enrichment_chunk_size: int = 500  # leads per activity for the local provider
    enrichment_http_chunk_size: int = 100  # leads per activity when an HTTP provider is used
    default_phone_region: str = "US"  # region for phone numbers written without +country
    leads_import_max_rows: int = 100_000
    leads_import_max_bytes: int = 25 * 1024 * 1024

    # Fair share (docs/fairness.md). ``fairness`` stamps every start with its tenant's
    # fairness key and weight and its priority class, and makes the dev stack start Temporal
    # with fairness on; off, starts carry only the class (priority still orders them).
    fairness: bool = True
    fairness_default_weight: float = 1.0  # a user without an override (admin API) gets this
    quota_cache_seconds: float = 5.0  # how long a process trusts a user's weight and quotas
    # Running jobs per kind and user; 0 = no cap. Over the cap a start answers 429
    # QUOTA_EXCEEDED, except a workflow execution, which waits as ``pending`` for a slot.
    quota_running_tool_executions: int = 0
    quota_running_workflow_runs: int = 0
    quota_running_enrichment_batches: int = 0
    quota_running_lead_imports: int = 0
    quota_running_linkedin_actions: int = 0
    # Things a user keeps (403 QUOTA_EXCEEDED past them); 0 = no cap.
    quota_webhook_endpoints: int = 100
    quota_schedules: int = 100
    quota_schedule_min_interval_seconds: int = 300  # no every-minute cron by default
    # Items per request (403 QUOTA_EXCEEDED past them).
    quota_bulk_linkedin_targets: int = 1000
    quota_bulk_import_rows: int = 100_000
    quota_bulk_enrichment_leads: int = 50_000
    # Enrichment on the operator's provider keys (hunter_api_key / pdl_api_key) bills the
    # operator: refused unless allowed, and then capped per user and calendar month (leads).
    enrichment_operator_keys: bool = False
    quota_operator_enrichment_per_month: int = 1000

    # Tasks one worker (per queue) takes at once; 0: the SDK's default (100 each).
    worker_max_concurrent_workflow_tasks: int = 0
    worker_max_concurrent_activities: int = 0

    # Provider budgets, held across every worker process by one rate governor workflow per
    # vendor account (docs/fairness.md); off, each activity paces itself alone.
    provider_rate_limits: bool = True
    pdl_requests_per_minute: float = 100.0
    slack_messages_per_second: float = 1.0  # chat.postMessage, per channel
    slack_tier3_per_minute: float = 50.0  # chat.update, reactions.add, per workspace
    gmail_daily_send_limit: int = 2000  # per mailbox; Google Workspace (a consumer one: 500)

    @field_validator(
        "rate_limit_per_minute",
        "invalid_key_attempts_per_minute",
        "max_active_keys_per_user",
        "app_jwt_max_lifetime_seconds",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.state_dir / 'taskyard.db'}"
        if self.environment == "production":
            if self.master_keys is None:
                raise ValueError("TASKYARD_MASTER_KEYS must be set in production")
            if self.allow_private_urls:
                raise ValueError("TASKYARD_ALLOW_PRIVATE_URLS is refused in production")
        return self

    @property
    def api_base_url(self) -> str:
        return self.public_base_url.rstrip("/") or f"http://{self.api_host}:{self.api_port}"

    def return_origins(self) -> frozenset[str]:
        """The origins listed in ``oauth_return_origins``, normalized."""
        found = (origin_of(item.strip()) for item in self.oauth_return_origins.split(","))
        return frozenset(o for o in found if o)

    def return_url_allowed(self, url: str) -> bool:
        """May an OAuth flow send a browser to ``url``? Its origin must be listed; with
        nothing listed, any http(s) origin outside production and none in production."""
        origin = origin_of(url)
        if origin is None:
            return False
        listed = self.return_origins()
        if listed:
            return origin in listed
        return self.environment != "production"

    def ui_origins(self) -> list[str]:
        """Origins whose browsers may call the codec endpoint (CORS)."""
        if self.temporal_ui_origin.strip():
            return [o.strip().rstrip("/") for o in self.temporal_ui_origin.split(",") if o.strip()]
        port = self.temporal_ui_port
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    def base_urls(self) -> dict[str, str]:
        """Vendor base URLs handed to connectors."""
        return {
            "slack": self.slack_base_url,
            "stripe": self.stripe_base_url,
            "discord": self.discord_base_url,
            "gmail": self.gmail_base_url,
            "google_calendar": self.google_calendar_base_url,
            "google_auth": self.google_auth_url,
            "google_token": self.google_token_url,
            "slack_auth": self.slack_auth_url,
            "slack_token": self.slack_token_url,
            "discord_auth": self.discord_auth_url,
            "discord_token": self.discord_token_url,
            "linkedin": self.linkedin_base_url,
            "linkedin_auth": self.linkedin_auth_url,
            "linkedin_token": self.linkedin_token_url,
            "linkedin_automation": self.linkedin_automation_base_url,
            "hunter": self.hunter_base_url,
            "pdl": self.pdl_base_url,
        }

    def oauth_clients(self) -> dict[str, tuple[str, str]]:
        """Platform-managed OAuth clients that are configured: vendor → (id, secret).

        Discord counts only with its bot token too: the bot is what acts."""
        clients: dict[str, tuple[str, str]] = {}
        configured = (
            ("google", self.google_client_id, self.google_client_secret, True),
            ("slack", self.slack_client_id, self.slack_client_secret, True),
            ("discord", self.discord_client_id, self.discord_client_secret, self.discord_bot_token),
        )
        for vendor, client_id, secret, complete in configured:
            if client_id and secret is not None and complete:
                clients[vendor] = (client_id, secret.get_secret_value())
        return clients

    def bot_tokens(self) -> dict[str, str]:
        """Tokens the platform's own bots act with, by vendor (Discord)."""
        if self.discord_bot_token is None:
            return {}
        return {"discord": self.discord_bot_token.get_secret_value()}

    def master_key_ring(self) -> dict[str, bytes]:
        """Key id → 32-byte key, primary first. Dev generates and keeps one under state_dir."""
        if self.master_keys is not None:
            ring: dict[str, bytes] = {}
            for item in self.master_keys.get_secret_value().split(","):
                kid, _, encoded = item.strip().partition(":")
                key = base64.b64decode(encoded)
                if not kid or len(key) != 32:
                    raise ValueError("each master key must be 'kid:<base64 of 32 bytes>'")
                ring[kid] = key
            return ring
        path = self.state_dir / "master.key"
        if not path.exists():
            kid = "k" + secrets.token_hex(4)
            try:
                create_private_file(
                    path, f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}\n"
                )
                print(f"taskyard: generated a development master key in {path}")
            except FileExistsError:
                # Another process created it first, or a dangling link sits there.
                if not path.exists():
                    raise ValueError(f"{path} is a dangling link; not writing through it") from None
        kid, _, encoded = path.read_text().strip().partition(":")
        return {kid: base64.b64decode(encoded)}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (default port dropped), else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def create_private_file(path: Path, text: str) -> None:
    """Write a new secret file readable by its owner only.

    Created 0600 in one step (no moment with wider permissions) and exclusively: an
    existing file or link at ``path`` raises FileExistsError and is never written through.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
