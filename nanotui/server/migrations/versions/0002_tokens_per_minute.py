"""A user's model tokens per minute (`nanotui serve user add|limits --tpm N`).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:  # batch: SQLite alters by copying
        table.add_column(sa.Column("tpm", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_column("tpm")
