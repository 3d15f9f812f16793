"""Reading a session log as timeline rows: at once for a large log, then as it grows.

The first read of a log only indexes its lines (number, time and type, taken from the start
of each line with one regular-expression pass in C), which is what lets a million-event log
open at once. The index gives each row its kind too: the few types whose kind hangs on a
payload field (`KIND_SWITCHES`: a denied policy decision is a refusal) are settled from the
raw lines holding that field's value, found with a C search, so filtering by kind never
reads a summary. A row's summary is read when the row is first drawn, or when a search
looks at it; the full record behind a row is read back by its offset.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanotui.protocol.event_summary import (
    KIND_SWITCHES,
    SKIPPED_TYPES,
    payload_kind,
    usual_kind,
)
from nanotui.tui.timeline_rows import TimelineRow, describe_row, row_for_record

_SKIP_MARK = b'"type":"text_delta"'


class LogReader:
    """Reads a session log's complete lines as rows, each time from where it stopped.

    A line still being written (no newline yet) is left for the next read, so the same
    reader follows a live session's log. With `index_only`, rows are made from the start
    of each line alone (number, time, type: one regular-expression pass in C over the
    file), which is what lets a 100,000-event log open at once; `describe` reads the rest
    later. A log whose lines do not all have the writer's shape is read line by line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._describe_lock = threading.Lock()

    def has_more(self) -> bool:
        try:
            return self.path.stat().st_size > self.offset
        except OSError:
            return False

    def read(self, *, index_only: bool = False) -> list[TimelineRow]:
        """The rows of the complete lines written since the last read."""
        return [row for batch in self.read_batches(index_only=index_only) for row in batch]

    def read_batches(
        self, *, index_only: bool = False, first_bytes: int = 1 << 18, batch_bytes: int = 1 << 23
    ) -> Iterator[list[TimelineRow]]:
        """Like `read`, in batches: a small first one (the first rows show at once), then
        about `batch_bytes` of log each."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(self.offset)
            size = first_bytes
            while chunk := handle.read(size):
                end = chunk.rfind(b"\n") + 1
                if end == 0:  # one line longer than the chunk, or a line still being written
                    more = handle.read(batch_bytes)
                    if not more:
                        return
                    handle.seek(self.offset)
                    size += len(more)
                    continue
                handle.seek(self.offset + end)
                base, self.offset = self.offset, self.offset + end
                rows = _index_rows(chunk, end, base) if index_only else None
                yield rows if rows is not None else _parsed_rows(chunk, end, base)
                size = batch_bytes

    def describe(self, rows: list[TimelineRow]) -> None:
        """Read in the summaries of the rows that have none yet (safe from any thread).

        The log is read a piece at a time, only as far as the last row asked for."""
        with self._describe_lock:
            missing = sorted((row for row in rows if row.summary is None), key=_offset)
            if not missing:
                return
            at = 0
            for base, data in log_chunks(self.path, missing[0].offset, missing[-1].offset):
                while at < len(missing) and missing[at].offset < base + len(data):
                    row = missing[at]
                    if row.summary is None:
                        describe_row(row, record_in(data, row.offset - base))
                    at += 1


def _offset(row: TimelineRow) -> int:
    return row.offset


def log_chunks(
    path: Path, start: int, last: int, size: int = 1 << 22, first_size: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """The log's whole lines from offset `start` to the one starting at `last`, in pieces
    of about `size` bytes (the first `first_size`), each with its offset: the whole log is
    never held at once."""
    with path.open("rb") as handle:
        handle.seek(start)
        carry = b""
        read = first_size or size
        while start <= last:
            chunk = handle.read(read)
            read = size
            if not chunk:
                if carry:
                    yield start, carry + b"\n"  # a last line without its newline
                return
            data = carry + chunk
            end = data.rfind(b"\n") + 1
            if end == 0:
                carry = data
                continue
            carry = data[end:]
            yield start, data[:end]
            start += end


_LINE_START = re.compile(rb'\{"seq":(\d+),"ts":"[^"]{11}([^"]{8})[^"]*","type":"([a-z_]+)"')


def _index_rows(data: bytes, end: int, base: int) -> list[TimelineRow] | None:
    """Rows from the start of each line only; None when a line has another shape."""
    rows: list[TimelineRow] = []
    types: dict[bytes, tuple[str, str]] = {}
    # Rows logged in the same second share one string: a million rows hold far fewer.
    clocks: dict[bytes, str] = {}
    located: list[TimelineRow] = []
    lines = 0
    for match in _LINE_START.finditer(data, 0, end):
        start = match.start()
        if start and data[start - 1] != 10:  # not at a line start: a nested object
            continue
        lines += 1
        raw_type = match[3]
        if raw_type == b"text_delta":
            continue
        record_type, kind = types.get(raw_type) or types.setdefault(
            raw_type, (raw_type.decode(), usual_kind(raw_type.decode()))
        )
        clock = clocks.get(match[2]) or clocks.setdefault(match[2], match[2].decode())
        row = TimelineRow(int(match[1]), clock, record_type, kind, None, base + start)
        rows.append(row)
        if record_type in _KIND_MARKS:
            located.append(row)
    if lines != data.count(b"\n", 0, end):
        return None
    _settle_kinds(data, base, located)
    return rows


def _field_key(field: str) -> bytes:
    return b'"' + field.encode() + b'":'


_SWITCHES = {
    record_type: [
        (_field_key(field), _field_key(field) + json.dumps(value).encode(), kind)
        for field, value, kind in switches
    ]
    for record_type, switches in KIND_SWITCHES.items()
}
# For each such type, the bytes of a field holding a value that changes its kind.
_KIND_MARKS = {
    record_type: [mark for _, mark, kind in switches if kind != usual_kind(record_type)]
    for record_type, switches in _SWITCHES.items()
}


def _settle_kinds(data: bytes, base: int, located: list[TimelineRow]) -> None:
    """Give the rows of types in `_KIND_MARKS` (their lines in `data`, which starts at `base`
    in the log) their kind: a C search of each line for its marks, and only a line holding
    one read."""
    for row in located:
        start = row.offset - base
        stop = data.index(b"\n", start)
        for mark in _KIND_MARKS[row.type]:
            if data.find(mark, start, stop) != -1:
                row.kind = _line_kind(row.type, data, start, stop)
                break


def _line_kind(record_type: str, data: bytes, start: int, stop: int) -> str:
    """The kind of the line `data[start:stop]` by `KIND_SWITCHES`, read from its bytes as the
    writer wrote them (compact JSON); a field named more than once (a nested object has one
    too) has the line parsed to find the payload's own."""
    line = data[start:stop]
    for key, mark, kind in _SWITCHES[record_type]:
        named = line.count(key)
        if named > 1:
            payload = record_in(data, start).get("payload")
            return payload_kind(record_type, payload if isinstance(payload, dict) else {})
        if named and mark in line:
            return kind
    return usual_kind(record_type)


_LINE_HEAD = re.compile(rb'\{"seq":(\d+),"ts":"([^"]*)","type":"([a-z_]+)"')


@dataclass(slots=True)
class LogLine:
    """One line of a log as a replay releases it: its time, its type, where it starts, and
    its timeline row (None for streamed text, which has no row)."""

    ts: str
    type: str
    offset: int
    row: TimelineRow | None


def index_lines(path: Path) -> list[LogLine]:
    """Every complete line of the log at `path`, indexed as `LogReader` indexes rows."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    lines: list[LogLine] = []
    types: dict[bytes, str] = {}
    located: list[TimelineRow] = []
    for match in _LINE_HEAD.finditer(data, 0, end):
        start = match.start()
        if start and data[start - 1] != 10:  # not at a line start: a nested object
            continue
        record_type = types.get(match[3]) or types.setdefault(match[3], match[3].decode())
        ts = match[2].decode()
        row = None
        if record_type not in SKIPPED_TYPES:
            kind = usual_kind(record_type)
            row = TimelineRow(int(match[1]), ts[11:19], record_type, kind, None, start)
            if record_type in _KIND_MARKS:
                located.append(row)
        lines.append(LogLine(ts, record_type, start, row))
    if len(lines) == data.count(b"\n", 0, end):
        _settle_kinds(data, 0, located)
        return lines
    lines = []  # a line of another shape: read them all in full
    start = 0
    while start < end:
        record = record_in(data, start)
        record_type = str(record.get("type", "?"))
        row = None if record_type in SKIPPED_TYPES else row_for_record(record, start)
        lines.append(LogLine(str(record.get("ts", "")), record_type, start, row))
        start = data.index(b"\n", start) + 1
    return lines


def _parsed_rows(data: bytes, end: int, base: int) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    start = 0
    while start < end:
        stop = data.index(b"\n", start)
        line, offset, start = data[start:stop], base + start, stop + 1
        if line.find(_SKIP_MARK, 0, 80) != -1:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = {"type": "?", "payload": {"line": line.decode("utf-8", "replace")}}
        if not isinstance(record, dict):
            record = {"type": "?", "payload": {"value": record}}
        if record.get("type") not in SKIPPED_TYPES:
            rows.append(row_for_record(record, offset))
    return rows


def record_in(data: bytes, offset: int) -> dict[str, Any]:
    """The record whose line starts at `offset` in `data` (a stand-in when it is not one)."""
    try:
        # Decoded first: `json.loads` would spend a third of its time guessing the encoding.
        record = json.loads(data[offset : data.index(b"\n", offset)].decode())
    except ValueError:  # UnicodeDecodeError too
        return {"type": "?", "payload": {}}
    return record if isinstance(record, dict) else {"type": "?", "payload": {}}


def read_record_at(path: Path, offset: int) -> dict[str, Any]:
    """The record whose line starts at `offset` in the log at `path`."""
    with path.open("rb") as handle:
        handle.seek(offset)
        record = json.loads(handle.readline())
    if not isinstance(record, dict):
        raise ValueError("not a record")
    return record


def record_of(row: TimelineRow, path: Path | None) -> dict[str, Any]:
    """The whole record behind `row`: held in memory, or read back from its log."""
    if row.record is not None:
        return row.record
    if path is None or row.offset < 0:
        raise ValueError("this row has no record to read")
    return read_record_at(path, row.offset)
