"""The session log's hash chain: each kind of tampering is named, a crash's torn tail is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanotui.governance.audit_chain import ChainedFile, verify_log

RECORDS = 10


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "session.jsonl"
    chained = ChainedFile(path)
    chained.append({"type": "header", "payload": {"format": 2}})
    for n in range(1, RECORDS):
        chained.append({"type": "notice", "payload": {"text": f"event {n}"}}, sync=n % 3 == 0)
    chained.append({"type": "session_closed", "payload": {}})
    chained.close()
    return path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write(path: Path, parts: list[bytes]) -> None:
    path.write_bytes(b"".join(parts))


def test_an_untouched_log_verifies(log: Path) -> None:
    verdict = verify_log(log)
    assert verdict.ok and verdict.closed and not verdict.torn_tail
    assert verdict.lines == RECORDS + 1
    assert verdict.sentence().startswith("OK: 11 lines")
    assert stat_mode(log) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_an_edited_line_is_named(log: Path) -> None:
    parts = lines(log)
    parts[4] = parts[4].replace(b"event 4", b"event X")
    write(log, parts)
    verdict = verify_log(log)
    assert not verdict.ok and verdict.bad_line == 5
    assert "line 5 was changed after it was written" in verdict.sentence()


def test_a_deleted_line_is_named(log: Path) -> None:
    parts = lines(log)
    del parts[4]
    write(log, parts)
    verdict = verify_log(log)
    assert not verdict.ok and verdict.bad_line == 5 and "were removed" in verdict.problem


def test_an_inserted_line_is_named(log: Path) -> None:
    parts = lines(log)
    parts.insert(3, parts[2])
    write(log, parts)
    verdict = verify_log(log)
    assert not verdict.ok and verdict.bad_line == 4 and "moved or inserted" in verdict.problem


def test_reordered_lines_are_named(log: Path) -> None:
    parts = lines(log)
    parts[3], parts[4] = parts[4], parts[3]
    write(log, parts)
    verdict = verify_log(log)
    assert not verdict.ok and verdict.bad_line == 4


def test_a_line_truncated_in_the_middle_is_named(log: Path) -> None:
    parts = lines(log)
    parts[6] = parts[6][: len(parts[6]) // 2] + b"\n"
    write(log, parts)
    verdict = verify_log(log)
    assert not verdict.ok and verdict.bad_line == 7 and "cut short" in verdict.problem


def test_a_changed_header_is_named(log: Path) -> None:
    parts = lines(log)
    parts[0] = parts[0].replace(b'"format":2', b'"format":3')
    write(log, parts)
    verdict = verify_log(log)
    assert not verdict.ok and verdict.bad_line == 1


def test_a_relinked_edit_still_breaks_the_next_link(log: Path) -> None:
    # Editing a line and fixing its own `prev` does not help: the next line holds its hash.
    parts = lines(log)
    record = json.loads(parts[5])
    record["payload"]["text"] = "rewritten"
    parts[5] = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    write(log, parts)
    assert verify_log(log).bad_line == 6


def test_a_torn_last_line_is_a_crash_not_tampering(log: Path) -> None:
    with log.open("ab") as handle:
        handle.write(b'{"seq":11,"type":"notice","payl')
    verdict = verify_log(log)
    assert verdict.ok and verdict.torn_tail
    assert "cut short by a crash (not tampering)" in verdict.sentence()


def test_a_reopened_log_drops_its_torn_tail_and_goes_on(log: Path) -> None:
    with log.open("ab") as handle:
        handle.write(b'{"seq":11,"ty')
    chained = ChainedFile(log)
    chained.append({"type": "notice", "payload": {"text": "resumed"}})
    chained.close()
    verdict = verify_log(log)
    # The log had closed: a `session_reopened` line comes before the new one.
    assert verdict.ok and not verdict.torn_tail and verdict.lines == RECORDS + 3
    assert [json.loads(line)["type"] for line in lines(log)[-3:]] == [
        "session_closed",
        "session_reopened",
        "notice",
    ]
    assert json.loads(lines(log)[-1])["seq"] == RECORDS + 2
