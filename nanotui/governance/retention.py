"""Retention: session logs older than `sessions.retention_days` are deleted at start-up."""

from __future__ import annotations

import time
from pathlib import Path

from nanotui import paths

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
    deleted = []
    for log in folder.glob("*.jsonl"):
        try:
            if log.stem != keep and log.stat().st_mtime < cutoff:
                log.unlink()
                deleted.append(log)
        except FileNotFoundError:  # another nanotui pruned it first
            continue
    return deleted
