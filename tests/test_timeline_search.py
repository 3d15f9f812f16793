"""Filtering and searching a log without reading every row: the same rows as reading them all.

A kind comes from the index and a search reads only the rows whose raw line holds the text;
each is checked here against the slow way (every line parsed and described) on a log with a
row of every kind and the records that could fool a reader of raw lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from timeline_support import record_of, session_events, write_log

import nanotui.tui.timeline_search as timeline_search
from nanotui.protocol.events import PolicyDecision, ToolResult, TurnFinished, UserMessage
from nanotui.tui.timeline_log import LogReader
from nanotui.tui.timeline_rows import FILTERS_BY_NAME, KIND_FILTERS, TimelineRow, matching
from nanotui.tui.timeline_search import find_rows, raw_lines_suffice

FINE = record_of(ToolResult(call_id="c4", tool="fetch", ok=True, content="fine"))
TRICKY = [
    # A nested object holding the field a kind hangs on: the payload's own says "not refused".
    {**FINE, "payload": {**FINE["payload"], "data": {"refused": True}}},
    ToolResult(
        call_id="c5", tool="run_command", ok=False, content="", refused=True, interrupted=True
    ),
    PolicyDecision(call_id="c6", tool="read_file", decision="allow", reasons=['"decision":"deny"']),
    TurnFinished(status="error", reason="the model server went away"),
    UserMessage(text="Measure it on the \u212aelvin scale"),  # the Kelvin sign lower-cases to k
    {"type": "martian_landed", "payload": {"crater": "Jezero", "rovers": 2}},
    # "2 files written": a plural the record does not spell.
    {"type": "checkpoint_restored", "payload": {"checkpoint": "s/3", "restored": ["a", "b"]}},
]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Pieces smaller than a line, so that lines cut across pieces are put back together.
    monkeypatch.setattr(timeline_search, "FIRST_PIECE_BYTES", 200)
    monkeypatch.setattr(timeline_search, "PIECE_BYTES", 700)
    return write_log(tmp_path / "s1.jsonl", [*session_events(), *TRICKY])


def indexed(log: Path) -> list[TimelineRow]:
    rows = LogReader(log).read(index_only=True)
    assert all(row.summary is None for row in rows)
    return rows


def found(rows: list[TimelineRow], kind_filter: str, text: str, log: Path) -> list[int]:
    return [i for batch in find_rows(rows, FILTERS_BY_NAME[kind_filter], text, log) for i in batch]


def test_the_index_gives_each_row_the_kind_its_summary_gives(log: Path) -> None:
    read = LogReader(log).read()
    assert [(row.type, row.kind) for row in indexed(log)] == [(r.type, r.kind) for r in read]
    assert {"refused", "error", "warning"} <= {row.kind for row in read}


def test_a_kind_filter_keeps_the_rows_reading_them_all_keeps_and_reads_none(log: Path) -> None:
    read = LogReader(log).read()
    rows = indexed(log)
    for kind_filter in KIND_FILTERS:
        expected = matching(read, kind_filter, "")
        assert found(rows, kind_filter.name, "", log) == expected, kind_filter.name
    assert all(row.summary is None for row in rows)


def test_a_search_finds_every_word_of_every_row_where_reading_them_all_does(log: Path) -> None:
    read = LogReader(log).read()
    words = {word for row in read for word in re.findall(r"[\w./-]+", row.text().lower())}
    needles = [*sorted(words), "PYTEST", "1 failed", "kelvin", "jezero", '"rovers":2']
    assert any(raw_lines_suffice(n) for n in needles) and not all(map(raw_lines_suffice, needles))
    for needle in needles:
        for kind_filter in ("all", "tools"):
            expected = matching(read, FILTERS_BY_NAME[kind_filter], needle)
            assert found(indexed(log), kind_filter, needle, log) == expected, needle


def test_a_search_reads_only_the_rows_whose_line_holds_a_plain_word(log: Path) -> None:
    rows = indexed(log)
    assert raw_lines_suffice("curl") and found(rows, "all", "curl", log) != []
    described = [row.type for row in rows if row.described]
    # The three that mention curl, and the line with a Kelvin sign (always read).
    assert described == ["tool_call_proposed", "policy_decision", "tool_result", "user_message"]


def test_a_search_looks_at_the_summaries_not_at_the_records_keys(log: Path) -> None:
    assert raw_lines_suffice("call_id") and raw_lines_suffice("prev")
    assert found(indexed(log), "all", "call_id", log) == []
    assert found(indexed(log), "all", "prev", log) == []


def test_words_the_summaries_write_themselves_have_every_row_read() -> None:
    # "failed" is in no record ("ok": false); "1,200" is 1200 in the record.
    assert not raw_lines_suffice("failed") and not raw_lines_suffice("1,200")
    assert not raw_lines_suffice("tool calls") and raw_lines_suffice("pytest")
