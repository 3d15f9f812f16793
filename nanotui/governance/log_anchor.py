"""The anchor: each session log's chain head, kept outside the log, in the ledger database.

A hash chain shows a line changed in place, but not a log rewritten from some line on with
every hash recomputed, cut at the end, or invented whole. So as a session goes, every line
appended also updates the session's row in `log_anchors`: how many lines the log has and the
hash of the last one. `nanotui audit verify` then asks that the anchored line is in the log,
at that number, with that hash, and that at most one line follows it (the line written just
before a crash, whose anchor update never ran). A log the ledger anchored but which is gone
is reported as missing; one removed by retention is marked as pruned, not missing.

This holds against whoever can rewrite the session log but not the ledger; someone who can
rewrite both (the same user, or root) can make them agree again.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nanotui import paths
from nanotui.governance.ledger import BUSY_TIMEOUT_S, Ledger

UNANCHORED_LINES_ALLOWED = 1
"""A crash between the log's write and the anchor's update leaves one line unanchored."""


@dataclass(frozen=True)
class Anchor:
    """A session's chain head as last anchored: `lines` lines, the last hashing to `head`."""

    session: str
    lines: int
    head: str
    pruned: bool = False


class LogAnchor:
    """Updates one session's anchor after every line its log gets (one connection, kept).

    The ledger runs in WAL mode and this connection with `synchronous=NORMAL`: an update is
    a write to the WAL, in the kernel's cache before the call returns, so it survives the
    process being killed (not a power cut) without an fsync per line. An update that fails
    (the database locked for longer than the busy timeout, a full disk) is not the log's
    failure: the next update catches up, and `failures` counts them.
    """

    def __init__(self, session: str, db_path: Path | None = None) -> None:
        self.session = session
        self.failures = 0
        path = db_path or paths.ledger_file()
        Ledger(path)  # the schema
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA synchronous=NORMAL")

    def update(self, lines: int, head: str) -> None:
        """Record that the log now has `lines` lines, the last hashing to `head`."""
        if self._db is None:
            return
        try:
            self._db.execute(
                "INSERT INTO log_anchors (session, lines, head, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (session) DO UPDATE SET lines = excluded.lines, "
                "head = excluded.head, updated = excluded.updated, pruned = NULL",
                (self.session, lines, head, time.time()),
            )
        except sqlite3.Error:
            self.failures += 1

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def read_anchors(db_path: Path | None = None) -> dict[str, Anchor]:
    """Every anchored session, by id; empty when there is no ledger yet."""
    path = db_path or paths.ledger_file()
    if not path.is_file():
        return {}
    with _reader(path) as db:
        rows = db.execute("SELECT session, lines, head, pruned FROM log_anchors").fetchall()
    return {
        session: Anchor(session, lines, head, pruned is not None)
        for session, lines, head, pruned in rows
    }


def anchors_since(db_path: Path | None = None) -> float | None:
    """When this ledger began anchoring logs (a Unix time), or None without a ledger."""
    path = db_path or paths.ledger_file()
    if not path.is_file():
        return None
    with _reader(path) as db:
        row = db.execute("SELECT value FROM ledger_facts WHERE name = 'anchors_since'").fetchone()
    return float(row[0]) if row else None


def mark_pruned(sessions: Iterable[str], db_path: Path | None = None) -> None:
    """Note that retention deleted these sessions' logs: gone on purpose, not missing."""
    path = db_path or paths.ledger_file()
    names = [(time.time(), session) for session in sessions]
    if not names or not path.is_file():
        return
    with _reader(path) as db:
        db.executemany("UPDATE log_anchors SET pruned = ? WHERE session = ?", names)


@contextlib.contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived connection to an existing ledger (its schema brought up to date)."""
    Ledger(path)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        yield db
    finally:
        db.close()
