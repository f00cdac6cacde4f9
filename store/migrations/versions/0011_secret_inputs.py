"""secret inputs: the sealed secret an execution and a schedule were started with

Revision ID: 0011
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("workflow_executions", "workflow_schedules"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("secret_input_id", sa.String(40), nullable=True))


def downgrade() -> None:
    for table in ("workflow_executions", "workflow_schedules"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("secret_input_id")
