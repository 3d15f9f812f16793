"""The service's database: its tables, and bringing a database to the latest schema.

SQLite under the state folder by default (`[server] database_url` names another, such as
PostgreSQL); SQLAlchemy 2 keeps one code path for both, and Alembic migrations (in
`migrations/`) make and change the schema, never hand-written DDL.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
)

from nanotui import paths

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_id", String(12), nullable=False, unique=True),
    Column("token_salt", String(32), nullable=False),
    Column("token_digest", String(128), nullable=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("session_usd", Float, nullable=True),
    Column("day_usd", Float, nullable=True),
    Column("month_usd", Float, nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("path", String(4096), nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("project", String(100), primary_key=True),
)


def default_database_url() -> str:
    folder = paths.state_dir() / "server"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'server.db'}"


def open_database(url: str | None = None) -> Engine:
    """An engine on the service's database, migrated to the latest schema."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine(url or default_database_url())
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return engine
