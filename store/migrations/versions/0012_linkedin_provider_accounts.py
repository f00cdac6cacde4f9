"""linkedin provider accounts: one user per automation account, hosted sign-in links,
OAuth states bound to a browser

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Disconnected accounts no longer hold their provider account; a provider account
    # that two users hold (possible before this revision) stays with the one connected
    # last and is cleared on the others, so the unique index can be built.
    op.execute(
        "UPDATE linkedin_accounts SET automation_account_id = NULL WHERE status <> 'connected'"
    )
    op.execute(
        "UPDATE linkedin_accounts SET automation_account_id = NULL "
        "WHERE automation_account_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM linkedin_accounts newer"
        " WHERE newer.automation_account_id = linkedin_accounts.automation_account_id"
        " AND (newer.connected_at > linkedin_accounts.connected_at"
        "  OR (newer.connected_at = linkedin_accounts.connected_at"
        "   AND newer.id > linkedin_accounts.id)))"
    )
    op.create_index(
        "uq_linkedin_accounts_automation_account_id",
        "linkedin_accounts",
        ["automation_account_id"],
        unique=True,
    )
    with op.batch_alter_table("linkedin_oauth_states") as batch:
        batch.add_column(sa.Column("browser_hash", sa.String(64), nullable=True))
    op.create_table(
        "linkedin_automation_links",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("oauth_state_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("link_ciphertext", sa.Text(), nullable=True),
        sa.Column("account_id", sa.String(100), nullable=True),
        _ts("expires_at"),
        _ts("used_at", True),
        _ts("created_at"),
    )
    op.create_index(
        "ix_linkedin_automation_links_user_id", "linkedin_automation_links", ["user_id"]
    )
    op.create_index(
        "ix_linkedin_automation_links_oauth_state_hash",
        "linkedin_automation_links",
        ["oauth_state_hash"],
    )


def downgrade() -> None:
    op.drop_table("linkedin_automation_links")
    with op.batch_alter_table("linkedin_oauth_states") as batch:
        batch.drop_column("browser_hash")
    op.drop_index("uq_linkedin_accounts_automation_account_id", "linkedin_accounts")
