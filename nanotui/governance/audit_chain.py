"""The session log's hash chain: how lines are linked when written, and how that is checked.

Every line of a session log is one JSON record, and each carries in `prev` the SHA-256 of the
line before it (as written, without its newline); the first line, the header (`seq` 0), has
a `prev` of 64 zeros. So a line that is edited, deleted, inserted or moved breaks the link
of the line after it, and `verify_log` names the first line where that happens. A crash
can leave only the last line half-written (records are written whole and flushed one by
one): that is reported as a torn last line, which is not tampering.

A log that ended cleanly ends with a `session_closed` record, and nothing may follow it but
a `session_reopened` record (written when a closed session is resumed): a line after the
close is tampering.

What a chain alone cannot show: the last lines removed cleanly, or a log rewritten from the
first changed line on with every hash recomputed. The anchor kept outside the log
(`log_anchor.py`) shows those.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from nanotui.protocol.basics import plural
from nanotui.protocol.log_verdict import Verdict

GENESIS = "0" * 64
FORMAT_VERSION = 2
CLOSED_TYPE = "session_closed"
REOPENED_TYPE = "session_reopened"
PREV_TAIL = len(b',"prev":"') + 64 + len(b'"}')


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class ChainedFile:
    """An append-only log file whose records are linked by `prev` and numbered by `seq`.

    Opening an existing file (a resumed session) cuts a torn last line first, then goes on
    from its last complete record. Files are created 0600. `anchor`, when given, is called
    after every line is written with the line count and the last line's hash.
    """

    def __init__(self, path: Path, anchor: Callable[[int, str], None] | None = None) -> None:
        self.path = path
        self._anchor = anchor
        self.seq, self.last_hash, self.last_type = _recover(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file: IO[bytes] = os.fdopen(fd, "ab", buffering=0)

    @property
    def is_new(self) -> bool:
        return self.last_hash == GENESIS

    def append(self, record: dict[str, Any], *, sync: bool = False) -> dict[str, Any]:
        """Write `record` (given `seq` and `prev`) as one line; fsync it when `sync`.

        A record after a `session_closed` one is preceded by a `session_reopened` record, the
        only thing that may follow a close."""
        if self.last_type == CLOSED_TYPE and record.get("type") != REOPENED_TYPE:
            when = {"ts": record["ts"]} if "ts" in record else {}
            self.append({**when, "type": REOPENED_TYPE, "payload": {}}, sync=True)
        self.seq = 0 if self.is_new else self.seq + 1
        record = {"seq": self.seq, **record, "prev": self.last_hash}
        line = encode(record)
        # One unbuffered write per record: a crash tears at most this line, never one before.
        self._file.write(line)
        self.last_hash = line_hash(line)
        self.last_type = record.get("type")
        if sync:
            os.fsync(self._file.fileno())
        if self._anchor is not None:
            # After the line: a crash between the two leaves the log one line ahead, which
            # verify accepts; an anchor ahead of its log would read as a cut tail.
            self._anchor(self.seq + 1, self.last_hash)
        return record

    def sync(self) -> None:
        if not self._file.closed:
            os.fsync(self._file.fileno())

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        if not self._file.closed:
            os.fsync(self._file.fileno())
            self._file.close()


def _recover(path: Path) -> tuple[int, str, object]:
    """The last complete record's seq, line hash and type (-1, GENESIS, None for a new file)."""
    try:
        with path.open("rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                # A crash mid-write: cut the torn line so the next record starts clean.
                data = data[: data.rfind(b"\n") + 1]
                handle.truncate(len(data))
    except FileNotFoundError:
        return -1, GENESIS, None
    lines = data.splitlines()
    if not lines:
        return -1, GENESIS, None
    try:
        last = json.loads(lines[-1])
        seq, kind = int(last["seq"]), last.get("type")
    except (ValueError, KeyError, TypeError, AttributeError):
        seq, kind = len(lines) - 1, None
    return seq, line_hash(lines[-1]), kind


# ---- checking ----------------------------------------------------------------------------


def verify_log(path: Path, anchored: tuple[int, str] | None = None) -> Verdict:
    """Check every link of the log at `path`; the first broken one is reported.

    `anchored` (line count, last line's hash), kept outside the log as it was written, must
    be found in it: that line at that number, followed by at most one more line."""
    expected_prev = GENESIS
    closed_at: int | None = None
    anchored_hash: str | None = None
    count = 0
    tail = b""
    # Line by line, never the whole file: a million-event log verifies in constant memory.
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                tail = raw  # a torn last line (a crash mid-write): not part of the chain
                break
            line = raw[:-1]
            count += 1
            number = count
            problem = _check_line(line, number, expected_prev)
            if problem is None and closed_at is not None and _kind(line) != REOPENED_TYPE:
                problem = (
                    number,
                    f"follows the session's close on line {closed_at}: it was added later",
                )
            if problem is not None:
                bad_line, text = problem
                return Verdict(ok=False, lines=_lines_in(path), problem=text, bad_line=bad_line)
            expected_prev = line_hash(line)
            if anchored is not None and number == anchored[0]:
                anchored_hash = expected_prev
            # Only the close marker's line is parsed in full; `"type":"session_closed"` cannot
            # appear unescaped inside a payload string, so the cheap test finds every candidate.
            closed_at = number if _CLOSED_MARK in line and _kind(line) == CLOSED_TYPE else None
    problem = _against_anchor(count, anchored, anchored_hash)
    if problem is not None:
        return Verdict(ok=False, lines=count, problem=problem[1], bad_line=problem[0])
    closed = closed_at is not None
    return Verdict(
        ok=True,
        lines=count,
        torn_tail=bool(tail),
        closed=closed,
        anchored=anchored is not None,
    )


def _lines_in(path: Path) -> int:
    """The complete lines of the log (a broken one's verdict names them all)."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _against_anchor(
    lines: int, anchored: tuple[int, str] | None, found_hash: str | None
) -> tuple[int, str] | None:
    """Where a log whose chain holds together disagrees with its anchor, or None."""
    if anchored is None:
        return None
    count, head = anchored
    if lines < count:
        return lines, (
            f"is the log's last, but the ledger anchored {plural(count, 'line')}: "
            "lines were cut from the end"
        )
    if found_hash != head:
        return count, (
            "is not the line the ledger anchored there: the log was rewritten at or before it"
        )
    if lines > count + 1:
        return count + 2, (
            f"comes after the last line the ledger anchored (line {count}): it was added later"
        )
    return None


_CLOSED_MARK = f'"type":"{CLOSED_TYPE}"'.encode()


def _kind(line: bytes) -> object:
    try:
        return json.loads(line).get("type")
    except (ValueError, AttributeError):
        return None


def _links(line: bytes) -> tuple[object, object]:
    """A line's `seq` and `prev`. The writer puts them first and last, so they are read off
    the ends of the line without parsing the rest (it is the chain that proves the rest);
    any other shape is parsed in full."""
    if line.startswith(b'{"seq":') and line[-PREV_TAIL:-66] == b',"prev":"' and line[-2:] == b'"}':
        seq_text = line[7 : line.index(b",", 7)]
        if seq_text.isdigit():
            return int(seq_text), line[-66:-2].decode("ascii")
    record = json.loads(line)
    return record["seq"], record["prev"]


def _check_line(line: bytes, number: int, expected_prev: str) -> tuple[int, str] | None:
    """The first problem with line `number` (1-based) as (line to blame, what), or None."""
    try:
        seq, prev = _links(line)
    except (ValueError, KeyError, TypeError):
        return number, "is not a whole record: it was edited or cut short"
    if seq != number - 1:
        if isinstance(seq, int) and seq > number - 1:
            return (
                number,
                f"is record {seq} where {number - 1} belongs: lines before it were removed",
            )
        return number, f"is record {seq} where {number - 1} belongs: lines were moved or inserted"
    if prev == expected_prev:
        return None
    if number == 1:
        return 1, "does not start the chain: the header was changed"
    # The link stored in this line was made from the line before as it was written.
    return number - 1, f"was changed after it was written (line {number} no longer links to it)"
