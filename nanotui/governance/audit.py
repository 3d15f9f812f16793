"""The session log: every event of a session, one JSON line each, append-only.

Each line is `{"seq", "ts", "type", "payload"}`. Lines are flushed as they are written and
fsynced at approvals and turn ends, so a crash loses at most the line being written. Files
are 0600 in a 0700 folder: they hold the user's code. (The governance issue adds the hash
chain; the envelope leaves room for a `prev` field.)
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from nanotui import paths
from nanotui.engine.events import EventBase, parse_event
from nanotui.security.redaction import Redactor
from nanotui.security.secrets import secret_environment_values

FSYNC_TYPES = {"approval_resolved", "turn_finished", "session_started"}


def new_session_id() -> str:
    """Sortable by time, unique enough for one user: 20261128-010623-3f9a."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def session_path(session_id: str) -> Path:
    return paths.sessions_dir() / f"{session_id}.jsonl"


class SessionLog:
    """Appends events to `sessions/<id>.jsonl`, with secrets redacted from every string.

    The engine redacts tool results already; this is the last line of defence for the rest
    (error text, the model's own replies, a command the model proposed). `known_secrets`
    adds values to hunt for besides the credential-named environment variables, such as
    an API key read from a variable with an unremarkable name.
    """

    def __init__(
        self, session_id: str, path: Path | None = None, known_secrets: Iterable[str] = ()
    ) -> None:
        self.session_id = session_id
        self._redactor = Redactor([*secret_environment_values(), *known_secrets])
        self.path = path or session_path(session_id)
        paths.ensure_private_dir(self.path.parent)
        _drop_torn_last_line(self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file: IO[str] = os.fdopen(fd, "a", encoding="utf-8")
        self.seq = _last_seq(self.path)

    def append(self, event: EventBase) -> None:
        self.seq += 1
        record = {
            "seq": self.seq,
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "type": event.type,  # type: ignore[attr-defined]
            "payload": self._redacted_payload(event),
        }
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        if record["type"] in FSYNC_TYPES:
            os.fsync(self._file.fileno())

    def _redacted_payload(self, event: EventBase) -> dict[str, Any]:
        payload, kinds = self._redactor.redact_nested(
            event.model_dump(mode="json", exclude={"type"})
        )
        if kinds and isinstance(payload.get("redacted"), list):
            # A tool result says which kinds were redacted; add any found only here.
            payload["redacted"] = list(dict.fromkeys([*payload["redacted"], *kinds]))
        return payload

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _drop_torn_last_line(path: Path) -> None:
    """Cut a last line left half-written by a crash, so the next record starts clean."""
    try:
        with path.open("rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            # Walk back to the last complete line; files are small enough to read once.
            handle.seek(0)
            data = handle.read()
            handle.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        return


def _last_seq(path: Path) -> int:
    last = 0
    for record in read_records(path):
        last = record.get("seq", last)
    return last


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
