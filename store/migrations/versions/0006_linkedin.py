"""linkedin: accounts and OAuth states

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = ("linkedin",)
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "linkedin_accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("member_id", sa.String(100), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("profile_url", sa.Text(), nullable=True),
        sa.Column("picture_url", sa.Text(), nullable=True),
        sa.Column("connection_count", sa.Integer(), nullable=True),
        sa.Column("automation_account_id", sa.String(100), nullable=True),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        _ts("token_expires_at", True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        _ts("connected_at", True),
        _ts("disconnected_at", True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_linkedin_accounts_user_id", "linkedin_accounts", ["user_id"], unique=True)
    op.create_table(
        "linkedin_oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("automation_account_id", sa.String(100), nullable=True),
        sa.Column("code_ciphertext", sa.Text(), nullable=True),
        _ts("expires_at"),
        _ts("used_at", True),
        _ts("created_at"),
    )
    op.create_index("ix_linkedin_oauth_states_user_id", "linkedin_oauth_states", ["user_id"])


def downgrade() -> None:
    op.drop_table("linkedin_oauth_states")
    op.drop_table("linkedin_accounts")
