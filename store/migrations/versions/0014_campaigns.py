"""linkedin campaigns: campaigns, enrollments, their steps, provider events seen

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "linkedin_campaigns",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("started_at", True),
        _ts("finished_at", True),
    )
    op.create_index(
        "ix_linkedin_campaigns_user_created", "linkedin_campaigns", ["user_id", "created_at", "id"]
    )
    op.create_table(
        "linkedin_enrollments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "campaign_id", sa.String(40), sa.ForeignKey("linkedin_campaigns.id"), nullable=False
        ),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("lead_id", sa.String(40), nullable=True),
        sa.Column("profile_url", sa.Text(), nullable=False),
        sa.Column("profile_slug", sa.String(200), nullable=False),
        sa.Column("provider_user_id", sa.String(200), nullable=True),
        sa.Column("target_fields", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("messages_sent", sa.Integer(), nullable=False),
        sa.Column("actions", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("invited_at", True),
        _ts("accepted_at", True),
        _ts("replied_at", True),
        _ts("last_action_at", True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("started_at", True),
        _ts("finished_at", True),
        sa.UniqueConstraint("campaign_id", "profile_slug", name="uq_linkedin_enrollments_member"),
    )
    op.create_index(
        "ix_linkedin_enrollments_campaign",
        "linkedin_enrollments",
        ["campaign_id", "status", "position"],
    )
    op.create_index(
        "ix_linkedin_enrollments_account_slug",
        "linkedin_enrollments",
        ["account_id", "profile_slug"],
    )
    op.create_index(
        "ix_linkedin_enrollments_account_member",
        "linkedin_enrollments",
        ["account_id", "provider_user_id"],
    )
    op.create_index(
        "ix_linkedin_enrollments_account_status", "linkedin_enrollments", ["account_id", "status"]
    )
    op.create_table(
        "linkedin_enrollment_steps",
        sa.Column("enrollment_id", sa.String(40), primary_key=True),
        sa.Column("step_index", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("step_type", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        _ts("at"),
    )
    op.create_index(
        "ix_linkedin_enrollment_steps_campaign",
        "linkedin_enrollment_steps",
        ["campaign_id", "step_index"],
    )
    op.create_table(
        "linkedin_provider_events",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=True),
        _ts("received_at"),
        _ts("processed_at", True),
    )


def downgrade() -> None:
    op.drop_table("linkedin_provider_events")
    op.drop_table("linkedin_enrollment_steps")
    op.drop_table("linkedin_enrollments")
    op.drop_table("linkedin_campaigns")
