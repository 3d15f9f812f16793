"""The service's database: its tables, and bringing a database to the latest schema.

SQLite under the state folder by default (`[server] database_url` names another, such as
PostgreSQL); SQLAlchemy 2 keeps one code path for both, and Alembic migrations (in
`migrations/`) make and change the schema, never hand-written DDL. Replicas that share one
database (any but SQLite) also keep their spending, request windows and session placements
in it, and serialise what must not interleave with `lock`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
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

ledger_requests = Table(
    "ledger_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ledger", String(120), nullable=False),
    Column("at", Float, nullable=False),
    Column("day", String(10), nullable=False),
    Column("session", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("cached_input_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("reasoning_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=True),
    Column("price_source", String(100), nullable=False),
    Index("ledger_requests_day", "ledger", "day"),
)
"""The shared ledgers' requests (`shared_ledger.py`); `ledger` names whose: `user:<name>`
or `team`. `at` is a Unix time, `day` the local date it counts against."""

ledger_reservations = Table(
    "ledger_reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ledger", String(120), nullable=False),
    Column("day", String(10), nullable=False),
    Column("session", String(100), nullable=False),
    Column("amount_usd", Float, nullable=False),
    Column("created", Float, nullable=False),
    Index("ledger_reservations_ledger", "ledger", "day"),
)

request_events = Table(
    "request_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), nullable=False),
    Column("at", Float, nullable=False),
    Index("request_events_key", "key", "at"),
)
"""The shared request windows (`request_limits.py`): one row per request counted."""

session_placements = Table(
    "session_placements",
    metadata,
    Column("session", String(100), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("replica", String(500), nullable=False),
    Column("created", Float, nullable=False),
)
"""Which replica holds each session (`placement.py`)."""


def is_shared(engine: Engine) -> bool:
    """Whether several replicas may use this database: any but SQLite, a file on one machine
    (its one replica keeps spending in ledger files and request windows in memory)."""
    return engine.dialect.name != "sqlite"


def lock(db: Connection, name: str) -> None:
    """Hold the lock `name` until `db`'s transaction ends, so that a check and the write it
    allows are one step for every process on the database.

    PostgreSQL: a transaction-level advisory lock on the name's hash (two names sharing a
    hash only wait for each other). SQLite has a single writer: the transaction's first write
    takes it for the whole file, so callers begin with a write.
    """
    if db.dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


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
