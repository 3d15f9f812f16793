"""Retention: session logs older than `sessions.retention_days` are deleted at start-up,
and their anchors in the ledger marked as pruned (gone on purpose, not missing)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from nanotui import paths
from nanotui.governance.log_anchor import mark_pruned

DAY_S = 24 * 60 * 60


def prune_sessions(retention_days: int, *, keep: str | None = None) -> list[Path]:
    """Delete session logs last written more than `retention_days` ago; the ones deleted.

    `keep` (a session id) is never deleted: a session being resumed is in use whatever its
    age. 0 days keeps everything.
    """
    folder = paths.sessions_dir()
    if retention_days <= 0 or not folder.is_dir():
        return []
    cutoff = time.time() - retention_days * DAY_S
    old = []
    for log in folder.glob("*.jsonl"):
        try:
            if log.stem != keep and log.stat().st_mtime < cutoff:
                old.append(log)
        except FileNotFoundError:  # another nanotui pruned it first
            continue
    if not old:
        return []
    # Marked before deleting: a crash in between leaves a log marked pruned that is still
    # there (verified as usual), never one gone that verify would call missing.
    # If the ledger cannot be written, verify calls them missing: more than it should, not less.
    with contextlib.suppress(sqlite3.Error):
        mark_pruned(log.stem for log in old)
    deleted = []
    for log in old:
        try:
            log.unlink()
            deleted.append(log)
        except FileNotFoundError:
            continue
    return deleted
