"""Taskyard's one settings object, read from ``TASKYARD_*`` variables and ``.env``."""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    task_queue_prefix: str = "taskyard"
    activity_heartbeat_timeout_seconds: float = 10.0

    # Outbound traffic
    allow_private_urls: bool = False
    http_timeout_seconds: float = 30.0

    # Workflows (issue 4): a run continues as new past this many history events
    workflow_history_limit: int = 8000

    # Webhooks (issue 5)
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
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    linkedin_base_url: str = "https://api.linkedin.com"
    linkedin_auth_url: str = "https://www.linkedin.com/oauth/v2/authorization"
    linkedin_token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"

    # LinkedIn automation (issue 6). "sandbox" simulates LinkedIn so a new user can try
    # everything; "unipile" speaks the Unipile v2 API for actions, LinkedIn OAuth to connect.
    linkedin_provider: Literal["sandbox", "unipile"] = "sandbox"
    linkedin_client_id: str = ""
    linkedin_client_secret: SecretStr | None = None
    linkedin_redirect_base_url: str = ""  # where LinkedIn sends users back; api_base_url if empty
    linkedin_oauth_state_ttl_seconds: int = 600
    linkedin_automation_base_url: str = "https://api.unipile.com"
    linkedin_automation_api_key: SecretStr | None = None
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

    # App integrations (seed 003): platform-managed OAuth clients, state and refresh timing
    google_client_id: str = ""
    google_client_secret: SecretStr | None = None
    oauth_state_ttl_seconds: int = 600
    connection_refresh_margin_seconds: int = 300

    # Leads and enrichment (issue 7)
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

    @field_validator(
        "rate_limit_per_minute", "invalid_key_attempts_per_minute", "max_active_keys_per_user"
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

    def base_urls(self) -> dict[str, str]:
        """Vendor base URLs handed to connectors."""
        return {
            "slack": self.slack_base_url,
            "stripe": self.stripe_base_url,
            "discord": self.discord_base_url,
            "gmail": self.gmail_base_url,
            "google_auth": self.google_auth_url,
            "google_token": self.google_token_url,
            "linkedin": self.linkedin_base_url,
            "linkedin_auth": self.linkedin_auth_url,
            "linkedin_token": self.linkedin_token_url,
            "linkedin_automation": self.linkedin_automation_base_url,
            "hunter": self.hunter_base_url,
            "pdl": self.pdl_base_url,
        }

    def oauth_clients(self) -> dict[str, tuple[str, str]]:
        """Platform-managed OAuth clients that are configured: provider → (id, secret)."""
        clients: dict[str, tuple[str, str]] = {}
        if self.google_client_id and self.google_client_secret is not None:
            secret = self.google_client_secret.get_secret_value()
            clients["google"] = (self.google_client_id, secret)
        return clients

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
