"""The session log: every event of a session, one JSON line each, append-only, chained.

Each line is `{"seq", "ts", "type", "payload", "prev"}`: `prev` is the SHA-256 of the line
before (see `audit_chain.py`), so `nanotui audit verify` can show any later change. The first
line is a header (format, workspace, provider, model, sandbox, policy digest, version, git
HEAD); a clean end writes `session_closed`. Lines are written whole, one per event, and
fsynced at approvals and turn ends, so a crash loses at most the line being written. Files
are 0600 in a 0700 folder: they hold the user's code. Every line also moves the session's
anchor in the ledger database (`log_anchor.py`), which verify compares the log with.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nanotui import paths
from nanotui.governance.audit_chain import CLOSED_TYPE, FORMAT_VERSION, ChainedFile
from nanotui.governance.log_anchor import LogAnchor
from nanotui.protocol.events import EventBase, parse_event
from nanotui.security.secrets.redaction import Redactor, session_redactor

FSYNC_TYPES = {"approval_resolved", "turn_finished", "session_started"}
UNLOGGED_TYPES = {"text_delta"}
"""Streamed pieces of a reply: the `assistant_message` that ends every reply, interrupted or
not, holds the whole text, so logging the pieces as well would store each reply twice."""


def session_path(session_id: str) -> Path:
    return paths.sessions_dir() / f"{session_id}.jsonl"


class SessionLog:
    """Appends events to `sessions/<id>.jsonl`, with secrets redacted from every string.

    The engine redacts tool results already; this is the last line of defence for the rest
    (the model's own replies, a command the model proposed). `redactor` is the session's
    one redactor (`session_redactor`), the same the engine redacts tool results with;
    without one, the credential-named environment variables' values are hunted for.
    `header` fills the first line of a new log; an existing log (a resumed session) goes
    on where it ended.
    """

    def __init__(
        self,
        session_id: str,
        path: Path | None = None,
        redactor: Redactor | None = None,
        header: dict[str, Any] | None = None,
    ) -> None:
        self.session_id = session_id
        self._redactor = redactor or session_redactor()
        self.path = path or session_path(session_id)
        paths.ensure_private_dir(self.path.parent)
        self._anchor = _open_anchor(session_id)
        self._chain = ChainedFile(self.path, self._anchor.update if self._anchor else None)
        if self._chain.is_new:
            self._write("header", {"format": FORMAT_VERSION, **log_header(header)}, sync=True)

    @property
    def seq(self) -> int:
        return self._chain.seq

    @property
    def last_hash(self) -> str:
        """The SHA-256 of the last line written: what the next line's `prev` will be."""
        return self._chain.last_hash

    def append(self, event: EventBase) -> None:
        kind = event.type  # type: ignore[attr-defined]
        if kind in UNLOGGED_TYPES:
            return
        self._write(kind, self._redacted_payload(event), sync=kind in FSYNC_TYPES)

    def _write(self, kind: str, payload: dict[str, Any], *, sync: bool) -> None:
        ts = datetime.now(UTC).isoformat(timespec="milliseconds")
        self._chain.append({"ts": ts, "type": kind, "payload": payload}, sync=sync)

    def _redacted_payload(self, event: EventBase) -> dict[str, Any]:
        payload, kinds = self._redactor.redact_nested(
            event.model_dump(mode="json", exclude={"type"})
        )
        if kinds and isinstance(payload.get("redacted"), list):
            # A tool result says which kinds were redacted; add any found only here.
            payload["redacted"] = list(dict.fromkeys([*payload["redacted"], *kinds]))
        return payload

    def close(self) -> None:
        """End the log cleanly (a `session_closed` line, fsynced); safe to call twice."""
        if not self._chain.closed:
            self._write(CLOSED_TYPE, {}, sync=True)
            self._chain.close()
        if self._anchor is not None:
            self._anchor.close()


def _open_anchor(session_id: str) -> LogAnchor | None:
    """The session's anchor; None when the ledger cannot be opened (the log goes on, and
    verify then says the ledger never anchored it)."""
    try:
        return LogAnchor(session_id)
    except (sqlite3.Error, OSError):
        return None


def log_header(given: dict[str, Any] | None) -> dict[str, Any]:
    """The header's fields: the caller's (workspace, model, ...) plus version and OS user."""
    import getpass

    from nanotui import __version__

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid())
    return {"nanotui_version": __version__, "os_user": user, **(given or {})}


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The log's records in order; a torn last line (a crash mid-write) is skipped."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def read_events(path: Path) -> Iterator[EventBase]:
    """The log's events in order; a record that is not a known event is skipped."""
    for record in read_records(path):
        try:
            yield parse_event({"type": record["type"], **record["payload"]})
        except (KeyError, TypeError, ValueError):
            continue


def list_sessions() -> list[Path]:
    """Session logs, newest first."""
    folder = paths.sessions_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.jsonl"), reverse=True)
