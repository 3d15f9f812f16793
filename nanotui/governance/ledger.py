"""The spending ledger: every priced request, shared by all nanotui processes of a user.

One SQLite file (`ledger.sqlite3` in the state folder, WAL mode). The daily budget holds
across processes because a request first *reserves* its worst-case cost in a write
transaction (`BEGIN IMMEDIATE` takes the database's write lock, so two processes check and
reserve one after the other, never both on the same total), and settles the reservation with
its actual cost when the response has come. A reservation left behind by a process that
died expires after `RESERVATION_TTL_S`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from nanotui.protocol.model_io import Usage
from nanotui.protocol.spend import Spend

RESERVATION_TTL_S = 30 * 60
"""Longer than any one request may stream; after it, a dead process's reservation lapses."""
BUSY_TIMEOUT_S = 10.0
ROUNDING_USD = 1e-9
"""Sums of float dollars drift in the last bits; a budget is not passed by that drift."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    session TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL,
    price_source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_day ON requests (day);
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    session TEXT NOT NULL,
    amount_usd REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS log_anchors (
    session TEXT PRIMARY KEY,
    lines INTEGER NOT NULL,
    head TEXT NOT NULL,
    updated REAL NOT NULL,
    pruned REAL
);
CREATE TABLE IF NOT EXISTS ledger_facts (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
"""`log_anchors` holds each session log's chain head (see `log_anchor.py`); `ledger_facts`
when this ledger began keeping them, so a log begun later without one is suspect."""


class DailyBudgetExceeded(Exception):
    """The request would pass today's (or this month's) budget; the message says spent, limit
    and what to do."""


@dataclass(frozen=True)
class SpendRow:
    """One line of a report: spending grouped by day, session or model."""

    key: str
    requests: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: float | None
    """The priced requests' dollars; None when none of the row's requests had a price."""
    unpriced_requests: int

    @property
    def spend(self) -> Spend:
        return Spend(self.cost_usd, self.unpriced_requests)


class Ledger:
    """The ledger file; each method is one short transaction (safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO ledger_facts (name, value) VALUES ('anchors_since', ?)",
                (repr(time.time()),),
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: transactions are begun explicitly, as IMMEDIATE where it matters.
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def reserve(
        self,
        session: str,
        amount_usd: float,
        day_limit_usd: float,
        month_limit_usd: float | None = None,
    ) -> int:
        """Hold `amount_usd` of today's budget for one request; its id, to settle or release.

        Raises DailyBudgetExceeded when today's spending, with every open reservation, would
        pass `day_limit_usd`, or this month's would pass `month_limit_usd`.
        """
        today = ledger_day()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "DELETE FROM reservations WHERE created < ?",
                    (time.time() - RESERVATION_TTL_S,),
                )
                spent = _spent_on(db, today)
                held = db.execute(
                    "SELECT COALESCE(SUM(amount_usd), 0) FROM reservations WHERE day = ?",
                    (today,),
                ).fetchone()[0]
                refuse_past(amount_usd, spent + held, day_limit_usd, "day")
                if month_limit_usd is not None:
                    month = today[:7]
                    spent_month = _spent_since(db, f"{month}-01")
                    held_month = db.execute(
                        "SELECT COALESCE(SUM(amount_usd), 0) FROM reservations WHERE day >= ?",
                        (f"{month}-01",),
                    ).fetchone()[0]
                    refuse_past(amount_usd, spent_month + held_month, month_limit_usd, "month")
                cursor = db.execute(
                    "INSERT INTO reservations (day, session, amount_usd, created) "
                    "VALUES (?, ?, ?, ?)",
                    (today, session, amount_usd, time.time()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def settle(
        self,
        reservation: int | None,
        *,
        session: str,
        model: str,
        usage: Usage,
        cost_usd: float | None,
        price_source: str,
    ) -> None:
        """Record a finished request, replacing its reservation (if it had one)."""
        now = datetime.now().astimezone()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if reservation is not None:
                    db.execute("DELETE FROM reservations WHERE id = ?", (reservation,))
                db.execute(
                    "INSERT INTO requests (at, day, session, model, input_tokens, "
                    "cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
                    "cost_usd, price_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        now.isoformat(timespec="seconds"),
                        now.date().isoformat(),
                        session,
                        model,
                        usage.input_tokens,
                        usage.cached_input_tokens,
                        usage.cache_write_tokens,
                        usage.output_tokens,
                        usage.reasoning_tokens,
                        cost_usd,
                        price_source,
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def release(self, reservation: int) -> None:
        """Give back a reservation whose request never produced usage (failed, cancelled)."""
        with self._connect() as db:
            db.execute("DELETE FROM reservations WHERE id = ?", (reservation,))

    def spent_today(self) -> float:
        """Today's priced dollars (what the daily budget counts)."""
        with self._connect() as db:
            return _spent_on(db, ledger_day())

    def spent_this_month(self) -> float:
        """This calendar month's priced dollars (what the monthly budget counts)."""
        with self._connect() as db:
            return _spent_since(db, f"{ledger_day()[:7]}-01")

    def tokens_in_last(self, seconds: float) -> list[tuple[float, int]]:
        """(age in seconds, tokens) of each request recorded in the last `seconds`, oldest
        first (what a tokens-per-minute limit counts)."""
        now = datetime.now().astimezone()
        since = now - timedelta(seconds=seconds)
        with self._connect() as db:
            rows = db.execute(
                "SELECT at, input_tokens + output_tokens FROM requests WHERE day >= ? ORDER BY id",
                (since.date().isoformat(),),
            ).fetchall()
        recent = []
        for at, tokens in rows:
            when = datetime.fromisoformat(at)
            if when >= since:
                recent.append(((now - when).total_seconds(), int(tokens)))
        return recent

    def spend_today(self) -> Spend:
        """Today's spending as it is shown: the priced dollars and the unpriced requests."""
        with self._connect() as db:
            requests, usd, unpriced = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0), "
                "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) FROM requests WHERE day = ?",
                (ledger_day(),),
            ).fetchone()
        return Spend.of(float(usd), requests, unpriced or 0)

    def report(self, by: str, day: str | None = None) -> list[SpendRow]:
        """Spending grouped `by` "day", "session" or "model", optionally for one day only."""
        column = {"day": "day", "session": "session", "model": "model"}[by]
        where, params = ("WHERE day = ?", (day,)) if day else ("", ())
        query = (
            f"SELECT {column}, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), "
            "SUM(output_tokens), COALESCE(SUM(cost_usd), 0), "
            "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) "
            f"FROM requests {where} GROUP BY {column} ORDER BY MIN(at)"
        )
        with self._connect() as db:
            rows = db.execute(query, params).fetchall()
        return [
            SpendRow(*counts, Spend.of(usd, counts[1], unpriced).cost_usd, unpriced)
            for *counts, usd, unpriced in rows
        ]


BUDGETS = {
    "day": ("today's", "budget.day_usd", "wait until tomorrow"),
    "month": ("this month's", "budget.month_usd", "wait until next month"),
}


def refuse_past(amount_usd: float, used_usd: float, limit_usd: float, which: str) -> None:
    """Raise DailyBudgetExceeded when `amount_usd` more, on top of `used_usd` (spent, and held
    by running requests), would pass the `which` ("day" or "month") budget of `limit_usd`."""
    if used_usd + amount_usd <= limit_usd + ROUNDING_USD:
        return
    budget, setting, wait = BUDGETS[which]
    raise DailyBudgetExceeded(
        f"The next request could cost up to ${amount_usd:.4f}, which would pass {budget} "
        f"budget (${used_usd:.4f} of ${limit_usd:.2f} spent or held by running requests); "
        f"raise {setting} or {wait}."
    )


def _spent_on(db: sqlite3.Connection, day: str) -> float:
    row = db.execute(
        "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE day = ?", (day,)
    ).fetchone()
    return float(row[0])


def _spent_since(db: sqlite3.Connection, first_day: str) -> float:
    row = db.execute(
        "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE day >= ?", (first_day,)
    ).fetchone()
    return float(row[0])


def ledger_day() -> str:
    return date.today().isoformat()
