"""Rewrites of a real session log that a hash chain alone lets through, each made as an
attacker would (the chain recomputed with nanotui's own functions), and `nanotui audit verify`
failing for each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanotui.cli import main
from nanotui.engine.events import (
    UserMessage,
)
from nanotui.governance.audit import SessionLog
from nanotui.governance.audit_chain import GENESIS, encode, line_hash


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
