"""integrations sandbox: app_connections.provider, the sandbox vendors' records

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = ("integrations_sandbox",)
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Connections made before the sandbox existed were all the vendor's.
    op.add_column(
        "app_connections",
        sa.Column("provider", sa.String(20), nullable=False, server_default="vendor"),
    )
    op.create_table(
        "integration_sandbox_records",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("end_user_id", sa.String(200), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("toolkit", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("remote_id", sa.String(300), nullable=False),
        sa.Column("execution_id", sa.String(200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("connection_id", "kind", "remote_id", name="uq_sandbox_records_object"),
    )
    op.create_index(
        "ix_sandbox_records_app_created", "integration_sandbox_records", ["app_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_records_app_created", "integration_sandbox_records")
    op.drop_table("integration_sandbox_records")
    with op.batch_alter_table("app_connections") as batch:
        batch.drop_column("provider")
