"""workflows: definitions, versions, execution records, schedules, large step outputs

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("copied_from", sa.String(40), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_workflows_user_id", "workflows", ["user_id"])
    op.create_index("ix_workflows_is_public", "workflows", ["is_public"])
    op.create_table(
        "workflow_versions",
        sa.Column("workflow_id", sa.String(40), sa.ForeignKey("workflows.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.JSON(), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "workflow_executions",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("workflow_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("retry_of", sa.String(200), nullable=True),
        sa.Column("from_step", sa.String(64), nullable=True),
        sa.Column("schedule_id", sa.String(40), nullable=True),
        _ts("created_at"),
        _ts("completed_at", nullable=True),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_wfx_idempotency"),
    )
    op.create_index("ix_workflow_executions_user_id", "workflow_executions", ["user_id"])
    op.create_index("ix_workflow_executions_workflow_id", "workflow_executions", ["workflow_id"])
    op.create_table(
        "workflow_schedules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("workflow_id", sa.String(40), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("overlap_policy", sa.String(20), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_workflow_schedules_user_id", "workflow_schedules", ["user_id"])
    op.create_index("ix_workflow_schedules_workflow_id", "workflow_schedules", ["workflow_id"])
    op.create_table(
        "workflow_step_outputs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("execution_id", sa.String(200), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_workflow_step_outputs_user_id", "workflow_step_outputs", ["user_id"])
    op.create_index(
        "ix_workflow_step_outputs_execution_id", "workflow_step_outputs", ["execution_id"]
    )


def downgrade() -> None:
    op.drop_table("workflow_step_outputs")
    op.drop_table("workflow_schedules")
    op.drop_table("workflow_executions")
    op.drop_table("workflow_versions")
    op.drop_table("workflows")
