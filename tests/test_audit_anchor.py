"""Rewrites of a real session log that a hash chain alone lets through, each made as an
attacker would (the chain recomputed with nanotui's own functions), and `nanotui audit verify`
failing for each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanotui.cli.main import main
from nanotui.governance.audit import SessionLog
from nanotui.governance.audit_chain import GENESIS, encode, line_hash
from nanotui.protocol.events import (
    UserMessage,
)


@pytest.fixture(autouse=True)
def _own_home(home: Path) -> Path:
    return home


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def rechain(path: Path, rows: list[dict]) -> None:
    """Write `rows` as a log whose every `seq` and `prev` is right: what an attacker does."""
    prev, out = GENESIS, []
    for seq, row in enumerate(rows):
        line = encode(
            {"seq": seq, **{k: v for k, v in row.items() if k not in ("seq", "prev")}, "prev": prev}
        )
        out.append(line)
        prev = line_hash(line)
    path.write_bytes(b"".join(out))


def verify_output(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def session(fake_server, tmp_path: Path, home: Path, capsys) -> Path:
    """A real session: `nanotui run` in full-auto, one command allowed, one denied."""
    from fake_model_server import openai_reply
    from run_support import run

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("hello\n")
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": "ls"})]),
        openai_reply(tool_calls=[("run_command", {"command": "curl http://example.com"})]),
        openai_reply(text="Done."),
    )
    code, _, err = run(fake_server, repo, capsys, "--mode", "full-auto", prompt="look")
    assert code == 4, err  # the model gave up after the refusal
    (log,) = (home / "sessions").glob("*.jsonl")
    return log


def test_an_untouched_real_log_verifies(session: Path, capsys) -> None:
    code, out = verify_output(capsys)
    assert code == 0 and f"{session.stem}: OK:" in out


def test_a_line_appended_after_the_close_is_tampering(session: Path, capsys) -> None:
    rows = records(session)
    rows.append({"ts": rows[-1]["ts"], "type": "notice", "payload": {"text": "all fine"}})
    rechain(session, rows)
    code, out = verify_output(capsys, session.stem)
    assert code == 1
    assert f"TAMPERED: line {len(rows)} follows the session's close on line {len(rows) - 1}" in out


def test_a_closed_session_that_is_resumed_still_verifies(session: Path, capsys) -> None:
    again = SessionLog(session.stem)
    again.append(UserMessage(text="one more thing"))
    again.close()
    kinds = [row["type"] for row in records(session)]
    assert kinds[-4:] == ["session_closed", "session_reopened", "user_message", "session_closed"]
    code, out = verify_output(capsys, session.stem)
    assert code == 0 and "OK:" in out


def test_a_cut_tail_with_a_forged_close_is_tampering(session: Path, capsys) -> None:
    rows = records(session)
    kept = rows[:12]  # up to the deny's decision, and a close made up after it
    kept.append({"ts": rows[-1]["ts"], "type": "session_closed", "payload": {}})
    rechain(session, kept)
    code, out = verify_output(capsys, session.stem)
    assert code == 1
    assert f"TAMPERED: line {len(kept)} is the log's last, but the ledger anchored" in out
    assert "lines were cut from the end" in out


def test_the_tail_cut_and_as_many_lines_forged_is_tampering(session: Path, capsys) -> None:
    rows = records(session)
    forged = [*rows[:-3], *({**row, "payload": {}} for row in rows[-3:])]
    rechain(session, forged)
    code, out = verify_output(capsys, session.stem)
    assert code == 1
    assert f"TAMPERED: line {len(rows)} is not the line the ledger anchored there" in out


def test_a_deny_turned_into_an_allow_and_rechained_is_tampering(session: Path, capsys) -> None:
    rows = records(session)
    (deny,) = [
        r for r in rows if r["type"] == "policy_decision" and r["payload"]["decision"] == "deny"
    ]
    deny["payload"]["decision"] = "allow"
    deny["payload"]["reasons"] = ["allow: full-auto mode runs it"]
    rechain(session, rows)
    code, out = verify_output(capsys)
    assert code == 1
    assert f"{session.stem}: TAMPERED: line {len(rows)} is not the line the ledger anchored" in out


def test_every_command_event_removed_and_rechained_is_tampering(session: Path, capsys) -> None:
    rows = records(session)
    command_kinds = {"tool_call_proposed", "policy_decision", "tool_started", "tool_result"}
    kept = [r for r in rows if r["type"] not in command_kinds]
    rechain(session, kept)
    code, out = verify_output(capsys, str(session))  # by path, as well
    assert code == 1
    assert f"TAMPERED: line {len(kept)} is the log's last, but the ledger anchored" in out


def test_a_whole_invented_chain_is_tampering(session: Path, capsys) -> None:
    rows = records(session)
    invented = [rows[0], {"ts": rows[1]["ts"], "type": "user_message", "payload": {"text": "hi"}}]
    invented += [
        {"ts": rows[1]["ts"], "type": "notice", "payload": {"text": f"{n}"}} for n in range(40)
    ]
    invented.append({"ts": rows[-1]["ts"], "type": "session_closed", "payload": {}})
    rechain(session, invented)
    code, out = verify_output(capsys, session.stem)
    assert code == 1
    assert f"TAMPERED: line {len(rows)} is not the line the ledger anchored there" in out


def test_an_invented_log_for_a_session_never_anchored_is_tampering(
    session: Path, home: Path, capsys
) -> None:
    made_up = home / "sessions" / "20991231-000000-beef.jsonl"
    made_up.write_bytes(session.read_bytes())  # a whole log, under a name nanotui never used
    code, out = verify_output(capsys)
    assert code == 1
    assert (
        "20991231-000000-beef: TAMPERED: line 1 starts a session the ledger never anchored" in out
    )
    assert f"{session.stem}: OK:" in out


def test_lines_appended_past_the_anchor_are_tampering(home: Path, capsys) -> None:
    log = SessionLog("open-session", header={"workspace": "/w"})
    log.append(UserMessage(text="still running"))
    path = log.path
    rows = records(path)
    rows += [{"ts": rows[-1]["ts"], "type": "notice", "payload": {"text": "x"}}] * 2
    rechain(path, rows)
    code, out = verify_output(capsys, "open-session")
    assert code == 1
    assert "TAMPERED: line 4 comes after the last line the ledger anchored (line 2)" in out
    log.close()


def test_a_deleted_log_is_reported_missing(session: Path, capsys) -> None:
    session.unlink()
    code, out = verify_output(capsys)
    assert code == 1
    assert f"{session.stem}: MISSING: the ledger anchored" in out and "its log is gone" in out
    code, out = verify_output(capsys, session.stem)
    assert code == 1 and "MISSING" in out


def test_a_log_pruned_by_retention_is_not_missing(session: Path, capsys) -> None:
    import os

    from nanotui.governance.retention import prune_sessions

    os.utime(session, (0, 0))
    assert prune_sessions(1) == [session]
    code, out = verify_output(capsys)
    assert code == 0 and "No session logs yet." in out


def test_a_log_killed_at_random_moments_agrees_with_its_anchor(home: Path, capsys) -> None:
    import random

    from test_audit_log import kill_writer_at_random

    rng = random.Random(11)
    for attempt in range(10):
        session = f"killed-{attempt}"
        kill_writer_at_random(session, rng)
        code, out = verify_output(capsys, session)
        assert code == 0 and "OK:" in out, (attempt, out)
        log = SessionLog(session)  # resumed: it goes on, and still agrees
        log.append(UserMessage(text="after the crash"))
        log.close()
        code, out = verify_output(capsys, session)
        assert code == 0 and "OK:" in out, (attempt, out)


def test_audit_list_marks_a_deleted_log_missing(session: Path, capsys) -> None:
    session.unlink()
    capsys.readouterr()
    assert main(["audit", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{session.stem}  MISSING: the ledger anchored" in out
    assert main(["audit", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["session"] == session.stem and row["missing"] is True
