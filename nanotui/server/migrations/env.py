"""Alembic's entry: run the migrations on the connection `store.open_database` hands over."""

from __future__ import annotations

from alembic import context

from nanotui.server.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
