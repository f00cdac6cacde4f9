"""leads: leads, lead tags, import staging, enrichment batches

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = ("leads",)
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("company", sa.String(300), nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("linkedin_url", sa.String(500), nullable=True),
        sa.Column("job_title", sa.String(300), nullable=True),
        sa.Column("location", sa.String(300), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("enrichment", sa.JSON(), nullable=True),
        _ts("enriched_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("user_id", "email_key", name="uq_leads_user_email"),
    )
    # Each list sort is (column, id) within a user, so a page is an index walk, not a sort.
    op.create_index("ix_leads_user_created", "leads", ["user_id", "created_at", "id"])
    op.create_index("ix_leads_user_updated", "leads", ["user_id", "updated_at", "id"])
    op.create_index("ix_leads_user_first", "leads", ["user_id", sa.text("lower(first_name)"), "id"])
    op.create_index("ix_leads_user_last", "leads", ["user_id", sa.text("lower(last_name)"), "id"])
    op.create_index("ix_leads_user_status", "leads", ["user_id", "status", "created_at", "id"])
    # ``search`` is a substring match: no B-tree can seek it, but scanning this narrow
    # index (instead of the wide rows) is several times cheaper on both databases.
    op.create_index("ix_leads_user_search", "leads", ["user_id", "search_text", "id"])

    op.create_table(
        "lead_tags",
        sa.Column(
            "lead_id",
            sa.String(40),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(100), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
    )
    op.create_index("ix_lead_tags_user_tag", "lead_tags", ["user_id", "tag", "lead_id"])

    op.create_table(
        "lead_imports",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("source_format", sa.String(10), nullable=False),
        sa.Column("on_duplicate", sa.String(10), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_lead_imports_user_id", "lead_imports", ["user_id"])
    op.create_table(
        "lead_import_rows",
        sa.Column(
            "import_id",
            sa.String(80),
            sa.ForeignKey("lead_imports.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("row_number", sa.Integer(), primary_key=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("lead_id", sa.String(40), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_field", sa.String(100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_lead_import_rows_status", "lead_import_rows", ["import_id", "status"])

    op.create_table(
        "enrichment_batches",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("lead_ids", sa.JSON(), nullable=True),
        sa.Column("filter", sa.JSON(), nullable=True),
        sa.Column("providers", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("overwrite", sa.Boolean(), nullable=False),
        sa.Column("sealed_secret_id", sa.String(40), nullable=True),
        sa.Column("credential_ids", sa.JSON(), nullable=False),
        sa.Column("prepared", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_enrichment_batches_user_id", "enrichment_batches", ["user_id"])
    op.create_table(
        "enrichment_items",
        sa.Column(
            "batch_id",
            sa.String(80),
            sa.ForeignKey("enrichment_batches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("updated_at", nullable=True),
    )
    op.create_index("ix_enrichment_items_status", "enrichment_items", ["batch_id", "status"])


def downgrade() -> None:
    op.drop_table("enrichment_items")
    op.drop_table("enrichment_batches")
    op.drop_table("lead_import_rows")
    op.drop_table("lead_imports")
    op.drop_table("lead_tags")
    op.drop_table("leads")
