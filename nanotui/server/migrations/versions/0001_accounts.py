"""Accounts, projects and which projects each account may use.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token_id", sa.String(12), nullable=False, unique=True),
        sa.Column("token_salt", sa.String(32), nullable=False),
        sa.Column("token_digest", sa.String(128), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("session_usd", sa.Float, nullable=True),
        sa.Column("day_usd", sa.Float, nullable=True),
        sa.Column("month_usd", sa.Float, nullable=True),
        sa.Column("rpm", sa.Integer, nullable=True),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("path", sa.String(4096), nullable=False),
    )
    op.create_table(
        "grants",
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("project", sa.String(100), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_table("projects")
    op.drop_table("users")
