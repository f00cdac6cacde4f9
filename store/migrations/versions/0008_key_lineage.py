"""key lineage: api_keys.parent_key_id, the key that minted each key

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("parent_key_id", sa.String(40), nullable=True))
        batch.create_foreign_key("fk_api_keys_parent_key_id", "api_keys", ["parent_key_id"], ["id"])
        batch.create_index("ix_api_keys_parent_key_id", ["parent_key_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_parent_key_id")
        batch.drop_constraint("fk_api_keys_parent_key_id", type_="foreignkey")
        batch.drop_column("parent_key_id")
