"""Taskyard's one settings object, read from ``TASKYARD_*`` variables and ``.env``."""

from __future__ import annotations

import base64
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
    admin_key: SecretStr | None = None
    rate_limit_per_minute: int = 100
    redis_url: str | None = None

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

    @field_validator("rate_limit_per_minute")
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
        }

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
            path.parent.mkdir(parents=True, exist_ok=True)
            kid = "k" + secrets.token_hex(4)
            path.write_text(f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}\n")
            path.chmod(0o600)
            print(f"taskyard: generated a development master key in {path}")
        kid, _, encoded = path.read_text().strip().partition(":")
        return {kid: base64.b64decode(encoded)}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
