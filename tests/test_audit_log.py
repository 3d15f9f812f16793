"""The session log as written by nanotui: its header, its chain, kill -9, and the audit CLI."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nanotui.cli.main import main
from nanotui.engine.session import load_conversation
from nanotui.governance.audit import SessionLog, read_records, session_path
from nanotui.governance.audit_chain import verify_log
from nanotui.protocol.events import ApprovalResolved, Notice, TurnFinished, UserMessage

KILLS = 20


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def write_session(session: str, turns: int = 3) -> Path:
    log = SessionLog(session, header={"workspace": "/w", "model": "m"})
    for turn in range(turns):
        log.append(UserMessage(text=f"prompt {turn}"))
        log.append(Notice(text=f"working on {turn}"))
        log.append(ApprovalResolved(call_id=f"c{turn}", decision="approve", shown_sha256="ab"))
        log.append(TurnFinished(status="done", steps=1))
    log.close()
    return log.path


def test_a_log_starts_with_its_header_and_ends_closed(home: Path) -> None:
    path = write_session("s1")
    records = list(read_records(path))
    header = records[0]
    assert header["type"] == "header" and header["seq"] == 0
    assert header["payload"]["format"] == 2 and header["payload"]["model"] == "m"
    assert "nanotui_version" in header["payload"]
    assert records[-1]["type"] == "session_closed"
    verdict = verify_log(path)
    assert verdict.ok and verdict.closed
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_audit_verify_says_ok_and_names_a_tampered_line(home: Path, capsys) -> None:
    path = write_session("s2")
    assert main(["audit", "verify", "s2"]) == 0
    assert "s2: OK:" in capsys.readouterr().out
    lines = path.read_bytes().splitlines(keepends=True)
    assert b"working on 0" in lines[2]  # line 3: header, the prompt, then this notice
    lines[2] = lines[2].replace(b"working on 0", b"working on 9")
    path.write_bytes(b"".join(lines))
    assert main(["audit", "verify"]) == 1
    assert "TAMPERED: line 3 was changed" in capsys.readouterr().out


def test_replay_and_export_give_the_events_back_in_order(home: Path, capsys) -> None:
    write_session("s3", turns=2)
    assert main(["audit", "replay", "s3", "--json"]) == 0
    kinds = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()]
    assert kinds == ["user_message", "notice", "approval_resolved", "turn_finished"] * 2
    assert main(["audit", "export", "s3"]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in exported] == list(range(len(exported)))
    assert exported[0]["type"] == "header" and exported[-1]["type"] == "session_closed"


WRITER = textwrap.dedent(
    """
    import sys
    from nanotui.protocol.events import AssistantMessage, TextDelta, TurnFinished, UserMessage
    from nanotui.governance.audit import SessionLog

    log = SessionLog(sys.argv[1], header={"workspace": "/w"})
    print("ready", flush=True)
    turn = 0
    while True:
        turn += 1
        log.append(UserMessage(text=f"prompt {turn}"))
        for _ in range(20):
            log.append(TextDelta(text="streamed text " * 20))
        log.append(AssistantMessage(text=f"reply {turn} " * 50))
        log.append(TurnFinished(status="done", steps=1))
    """
)


def kill_writer_at_random(session: str, rng: random.Random) -> None:
    """Start a process appending to `session`'s log and kill -9 it at a random moment."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, session],
        env=env,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.15))
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait()


def test_kill_9_at_random_moments_leaves_a_log_that_verifies_and_resumes(home: Path) -> None:
    rng = random.Random(7)
    for attempt in range(KILLS):
        session = f"killed-{attempt}"
        kill_writer_at_random(session, rng)
        path = session_path(session)
        verdict = verify_log(path)
        assert verdict.ok, (attempt, verdict.sentence())
        assert not verdict.closed  # killed: no clean end, and it says so
        # It resumes: the conversation rebuilds, and the log goes on, still whole.
        load_conversation(session)
        log = SessionLog(session)
        log.append(UserMessage(text="after the crash"))
        log.close()
        after = verify_log(path)
        assert after.ok and not after.torn_tail and after.closed, after.sentence()
