"""The engine facade (EngineSession), driven as a front end drives it: a real agent over a
loopback model server speaking SSE, a real git workspace, a real session log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.engine.facade import EngineSession
from nanotui.governance.audit import read_events
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.events import ApprovalRequested, EventBase, Notice, TurnFinished


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "notes.txt").write_text("one\n")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def session_on(server: FakeModelServer, workspace: Path, mode: str = "ask") -> EngineSession:
    provider = {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"}
    flags = {"provider": provider, "approval": {"mode": mode}}
    settings = load_settings(workspace, flags, environ={}).settings
    return build_session(settings, workspace, session_id="facade-session")


async def run_turn(session: EngineSession, prompt: str, answer: ApprovalAnswer) -> list[EventBase]:
    """One turn; every approval asked for gets `answer` through the facade."""
    events = []
    async for event in session.turn(prompt):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert session.resolve_approval(event, answer)
            assert not session.resolve_approval(event, answer)  # answered once only
    return events


async def test_a_turn_streams_events_and_an_approval_answered_through_the_facade_is_applied(
    fake_server: FakeModelServer, repo: Path
) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "new.txt", "content": "hello\n"})]),
        openai_reply("Written."),
    )
    session = session_on(fake_server, repo)
    try:
        assert not session.busy and session.message_count == 0
        events = await run_turn(session, "write it", ApprovalAnswer(decision="approve"))
        assert isinstance(events[-1], TurnFinished) and events[-1].status == "done"
        assert (repo / "new.txt").read_text() == "hello\n"
        assert session.message_count >= 3  # the prompt, the call, its result, the reply
        # The checkpoint taken before the write is browsable through the facade.
        browsing = session.checkpoint_browsing()
        try:
            assert browsing.entries()
        finally:
            browsing.close()
    finally:
        await session.close()


async def test_a_rejection_through_the_facade_leaves_the_file_unwritten(
    fake_server: FakeModelServer, repo: Path
) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "new.txt", "content": "no\n"})]),
        openai_reply("Understood."),
    )
    session = session_on(fake_server, repo)
    try:
        answer = ApprovalAnswer(decision="reject", reason="not now")
        await run_turn(session, "write it", answer)
        assert not (repo / "new.txt").exists()
    finally:
        await session.close()


async def test_mode_changes_are_logged_and_the_cost_sentence_comes_from_the_engine(
    fake_server: FakeModelServer, repo: Path
) -> None:
    session = session_on(fake_server, repo)
    try:
        assert session.set_mode("ask") is None  # unchanged: nothing to log
        notice = session.set_mode("plan")
        assert isinstance(notice, Notice) and session.mode == "plan"
        assert notice.text == "Mode changed from ask to plan."
        assert session.log_path is not None
        logged = [e for e in read_events(session.log_path) if isinstance(e, Notice)]
        assert [e.text for e in logged] == ["Mode changed from ask to plan."]
        summary = session.cost_summary()
        assert summary.startswith("This session: ")
        assert "0 input tokens (0 cached), 0 output (0 reasoning)" in summary
        assert session.cost_status().session_usage.input_tokens == 0
    finally:
        await session.close()


async def test_trusting_through_the_facade_is_logged_and_the_demo_is_never_trusted(
    fake_server: FakeModelServer, repo: Path
) -> None:
    session = session_on(fake_server, repo)
    try:
        assert not session.workspace_trusted()
        notice = session.trust_workspace()
        assert session.workspace_trusted()
        assert session.log_path is not None
        assert notice.text in [
            e.text for e in read_events(session.log_path) if isinstance(e, Notice)
        ]
    finally:
        await session.close()
    demo = load_settings(repo, {"provider": {"kind": "demo"}}, environ={}).settings
    demo_session = build_session(demo, repo, session_id="facade-demo")
    try:
        with pytest.raises(UserFacingError):
            demo_session.trust_workspace()
    finally:
        await demo_session.close()


async def test_closing_mid_turn_logs_the_turn_as_cancelled_before_the_close(
    fake_server: FakeModelServer, repo: Path
) -> None:
    """A front end that quits while a change waits for approval (and so leaves the turn's
    events unread) still leaves a whole log: the turn's end, then the close."""
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "new.txt", "content": "hello\n"})])
    )
    session = session_on(fake_server, repo)
    turn = session.turn("write it")
    async for event in turn:
        if isinstance(event, ApprovalRequested):
            break  # the front end goes away with the question unanswered
    await session.close()
    assert not session.busy
    path = session.local_agent.log.path
    kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert kinds[-3:] == ["tool_result", "turn_finished", "session_closed"], kinds[-4:]
    assert list(read_events(path))[-1].status == "cancelled"
    assert not (repo / "new.txt").exists()
    await turn.aclose()  # what the front end's generator does later writes nothing more
    assert path.read_text().count("\n") == len(kinds)
