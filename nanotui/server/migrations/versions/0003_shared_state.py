"""What replicas sharing one database share besides accounts: the ledgers' requests and
reservations, the request windows, and which replica holds each session.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ledger", sa.String(120), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("session", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("cached_input_tokens", sa.Integer, nullable=False),
        sa.Column("cache_write_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("reasoning_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("price_source", sa.String(100), nullable=False),
    )
    op.create_index("ledger_requests_day", "ledger_requests", ["ledger", "day"])
    op.create_table(
        "ledger_reservations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ledger", sa.String(120), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("session", sa.String(100), nullable=False),
        sa.Column("amount_usd", sa.Float, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_index("ledger_reservations_ledger", "ledger_reservations", ["ledger", "day"])
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("request_events_key", "request_events", ["key", "at"])
    op.create_table(
        "session_placements",
        sa.Column("session", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("replica", sa.String(500), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("session_placements")
    op.drop_index("request_events_key", "request_events")
    op.drop_table("request_events")
    op.drop_index("ledger_reservations_ledger", "ledger_reservations")
    op.drop_table("ledger_reservations")
    op.drop_index("ledger_requests_day", "ledger_requests")
    op.drop_table("ledger_requests")
