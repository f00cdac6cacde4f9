"""fair share: per-user fairness weight and quota overrides, usage counters, run slots

Revision ID: 0010
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0001"
branch_labels = ("fairness",)
depends_on = ("0004",)  # workflow_executions


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("fairness_weight", sa.Float(), nullable=True))
        batch.add_column(sa.Column("quotas", sa.JSON(), nullable=True))
    op.create_table(
        "usage_counters",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("slot", sa.String(10), nullable=True))
        batch.create_index("ix_workflow_executions_slot", ["user_id", "slot", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_index("ix_workflow_executions_slot")
        batch.drop_column("slot")
    op.drop_table("usage_counters")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("quotas")
        batch.drop_column("fairness_weight")
