"""connectors: credentials, connector instances, apps, toolkits, connections, OAuth requests

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(60), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("previews", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_credentials_user_id", "credentials", ["user_id"])
    op.create_table(
        "connector_instances",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("credential_id", sa.String(40), sa.ForeignKey("credentials.id"), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_connector_instances_user_id", "connector_instances", ["user_id"])
    op.create_index(
        "ix_connector_instances_credential_id", "connector_instances", ["credential_id"]
    )
    op.create_table(
        "apps",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("redirect_urls", sa.JSON(), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_apps_user_id", "apps", ["user_id"])
    op.create_table(
        "app_toolkits",
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id"), primary_key=True),
        sa.Column("toolkit", sa.String(60), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "app_connections",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id"), nullable=False),
        sa.Column("end_user_id", sa.String(200), nullable=False),
        sa.Column("toolkit", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _ts("expires_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_app_connections_app_id", "app_connections", ["app_id"])
    op.create_index("ix_app_connections_end_user_id", "app_connections", ["end_user_id"])
    op.create_table(
        "oauth_requests",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column(
            "connection_id", sa.String(40), sa.ForeignKey("app_connections.id"), nullable=False
        ),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=False),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_oauth_requests_connection_id", "oauth_requests", ["connection_id"])


def downgrade() -> None:
    op.drop_table("oauth_requests")
    op.drop_table("app_connections")
    op.drop_table("app_toolkits")
    op.drop_table("apps")
    op.drop_table("connector_instances")
    op.drop_table("credentials")
