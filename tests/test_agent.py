"""The turn loop in-process: approvals, grants, hunks, stale diffs, cancellation, resume."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply, stalled_reply
from hang_guard import guarded

from nanotui.config_loading import load_settings
from nanotui.engine.agent import Agent
from nanotui.engine.approvals import resolve
from nanotui.engine.assembly import build_agent
from nanotui.engine.session import rebuild_conversation
from nanotui.governance.audit import read_events
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    EventBase,
    Notice,
    ToolResult,
    TurnFinished,
)

Answerer = Callable[[ApprovalRequested], ApprovalAnswer]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("one = 1\n")
    return ws


def make_agent(server: FakeModelServer, workspace: Path, mode: str = "ask") -> Agent:
    flags = {
        "provider": {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"},
        "approval": {"mode": mode},
    }
    return build_agent(load_settings(workspace, flags, environ={}).settings, workspace)


async def drive(agent: Agent, prompt: str, answer: Answerer | None = None) -> list[EventBase]:
    events: list[EventBase] = []
    async for event in agent.turn(prompt):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert answer is not None, "an approval was not expected"
            resolve(event, answer(event))
    return events


def edit(old: str, new: str, path: str = "a.py") -> tuple[str, dict]:
    return ("edit_file", {"path": path, "old_string": old, "new_string": new})


def results(events: list[EventBase]) -> list[ToolResult]:
    return [e for e in events if isinstance(e, ToolResult)]


async def test_approved_change_is_applied_and_what_was_shown_is_recorded(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("one = 1", "one = 2")]), openai_reply("ok"))
    agent = make_agent(fake_server, workspace)
    events = await drive(agent, "change it", lambda e: ApprovalAnswer(decision="approve"))
    assert (workspace / "a.py").read_text() == "one = 2\n"
    [request] = [e for e in events if isinstance(e, ApprovalRequested)]
    [resolved] = [e for e in events if isinstance(e, ApprovalResolved)]
    assert request.diff and "-one = 1" in request.diff and "+one = 2" in request.diff
    assert resolved.shown_sha256 == hashlib.sha256(request.diff.encode()).hexdigest()
    assert resolved.decision == "approve" and resolved.by == "user"
    agent.close()


async def test_rejection_reason_reaches_the_model_and_nothing_changes(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("one = 1", "one = 2")]), openai_reply("ok"))
    agent = make_agent(fake_server, workspace)
    events = await drive(
        agent, "go", lambda e: ApprovalAnswer(decision="reject", reason="keep it at one")
    )
    assert (workspace / "a.py").read_text() == "one = 1\n"
    [result] = results(events)
    assert result.refused and not result.ok
    sent = fake_server.requests[1].body["messages"][-1]
    assert sent["role"] == "tool" and "Their reason: keep it at one" in sent["content"]
    agent.close()


async def test_always_allows_the_same_change_for_the_rest_of_the_session(
    fake_server, workspace
) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[edit("one = 1", "one = 2")]),
        openai_reply(tool_calls=[edit("one = 2", "one = 3")]),
        openai_reply("done"),
    )
    agent = make_agent(fake_server, workspace)
    asked: list[ApprovalRequested] = []

    def always(event: ApprovalRequested) -> ApprovalAnswer:
        asked.append(event)
        return ApprovalAnswer(decision="always")

    events = await drive(agent, "go", always)
    assert len(asked) == 1
    assert (workspace / "a.py").read_text() == "one = 3\n"
    assert any(isinstance(e, Notice) and "a.py" in e.text for e in events)
    agent.close()


async def test_only_the_selected_hunks_are_applied(fake_server, workspace) -> None:
    lines = [f"line{i} = {i}\n" for i in range(30)]
    (workspace / "a.py").write_text("".join(lines))
    changed = list(lines)
    changed[1] = "line1 = 'first'\n"
    changed[25] = "line25 = 'second'\n"
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "a.py", "content": "".join(changed)})]),
        openai_reply("ok"),
    )
    agent = make_agent(fake_server, workspace)
    await drive(agent, "go", lambda e: ApprovalAnswer(decision="approve", hunks=[1]))
    text = (workspace / "a.py").read_text()
    assert "line25 = 'second'" in text and "line1 = 1\n" in text
    agent.close()


async def test_a_file_changed_on_disk_before_approval_is_not_clobbered(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("one = 1", "one = 2")]), openai_reply("ok"))
    agent = make_agent(fake_server, workspace)

    def user_edits_then_approves(event: ApprovalRequested) -> ApprovalAnswer:
        (workspace / "a.py").write_text("one = 1\n# the user's own edit\n")
        return ApprovalAnswer(decision="approve")

    events = await drive(agent, "go", user_edits_then_approves)
    assert (workspace / "a.py").read_text() == "one = 1\n# the user's own edit\n"
    [result] = results(events)
    assert not result.ok and "changed on disk" in result.content
    agent.close()


async def test_plan_mode_offers_only_read_only_tools(fake_server, workspace) -> None:
    fake_server.enqueue(openai_reply("a plan"))
    agent = make_agent(fake_server, workspace, mode="plan")
    await drive(agent, "plan it")
    names = {t["function"]["name"] for t in fake_server.requests[0].body["tools"]}
    assert "read_file" in names and "edit_file" not in names and "write_file" not in names
    assert "run_command" in names  # for known read-only commands only (the policy's word)
    agent.close()


async def test_cancel_closes_the_model_stream_at_once(fake_server, workspace) -> None:
    fake_server.enqueue(
        stalled_reply(openai_reply("a long answer " * 20), after_events=3, stall_s=600)
    )
    agent = make_agent(fake_server, workspace)
    events: list[EventBase] = []

    async def turn() -> None:
        async for event in agent.turn("go"):
            events.append(event)
            if len(events) == 4:  # session, user message, two text deltas: mid-stream
                agent.cancel()

    try:
        await guarded(turn())  # the server is silent for ten minutes
        assert isinstance(events[-1], TurnFinished) and events[-1].status == "cancelled"
        assert await asyncio.to_thread(fake_server.requests[0].client_gone.wait, 10)
    finally:
        agent.close()


async def test_cancel_kills_a_running_command(fake_server, workspace) -> None:
    # The command may run in its own PID namespace, so it is found by a unique marker.
    marker = f"nanotui-cancel-{os.getpid()}"
    command = (
        f"python3 -c \"import time; open('started', 'w').write('1'); time.sleep(30)\" {marker}"
    )
    fake_server.enqueue(openai_reply(tool_calls=[("run_command", {"command": command})]))
    agent = make_agent(fake_server, workspace, mode="full-auto")
    events: list[EventBase] = []
    try:
        async with asyncio.timeout(15):
            async for event in agent.turn("go"):
                events.append(event)
                if event.type == "tool_started":
                    for _ in range(100):
                        if (workspace / "started").exists():
                            break
                        await asyncio.sleep(0.05)
                    assert _running(marker)
                    agent.cancel()
        assert isinstance(events[-1], TurnFinished) and events[-1].status == "cancelled"
        for _ in range(50):
            if not _running(marker):
                break
            await asyncio.sleep(0.05)
        assert not _running(marker)
    finally:
        for pid in _running(marker):
            os.kill(pid, 9)
        agent.close()


def _running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting to be reaped is as good as gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_the_log_rebuilds_the_conversation_for_resume(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply("Reading.", tool_calls=[("read_file", {"path": "a.py"})]),
        openai_reply("It sets one."),
    )
    agent = make_agent(fake_server, workspace)
    await drive(agent, "what is in a.py?")
    agent.close()
    assert agent.log is not None
    conversation, started = rebuild_conversation(read_events(agent.log.path))
    assert started is not None and started.session == agent.session_id
    assert conversation.messages == agent.conversation.messages
    assert [m.role for m in conversation.messages] == ["user", "assistant", "tool", "assistant"]


async def test_after_an_interrupt_the_conversation_can_go_on(fake_server, workspace) -> None:
    """Streamed text is kept, and unanswered tool calls get an 'interrupted' result."""
    calls = [("read_file", {"path": "a.py"}), ("run_command", {"command": "sleep 30"})]
    fake_server.enqueue(
        openai_reply(tool_calls=calls),
        stalled_reply(openai_reply("partial answer " * 10), after_events=3, stall_s=20),
        openai_reply("fine"),
    )
    agent = make_agent(fake_server, workspace, mode="full-auto")
    async with asyncio.timeout(15):
        async for event in agent.turn("first"):
            if event.type == "tool_started" and event.tool == "run_command":
                agent.cancel()
        events = []
        async for event in agent.turn("second"):
            events.append(event)
            if event.type == "text_delta":
                agent.cancel()
        await drive(agent, "third")
    roles = [m.role for m in agent.conversation.messages]
    assert roles == ["user", "assistant", "tool", "tool", "user", "assistant", "user", "assistant"]
    interrupted = agent.conversation.messages[3]
    assert interrupted.tool_call_id == "call_2" and "Interrupted" in interrupted.content
    assert "partial answer".startswith(agent.conversation.messages[5].content)
    third = fake_server.requests[2].body["messages"]
    assert [m["role"] for m in third[1:]] == roles[:-1]
    agent.close()
    conversation, _ = rebuild_conversation(read_events(agent.log.path))
    assert conversation.messages == agent.conversation.messages


def test_a_log_torn_by_a_crash_is_repaired_and_rebuilt(tmp_path: Path, monkeypatch) -> None:
    from nanotui.governance.audit import SessionLog
    from nanotui.protocol.events import AssistantMessage, UserMessage
    from nanotui.protocol.model_io import ToolCall

    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path))
    log = SessionLog("s")
    log.append(UserMessage(text="one"))
    call = ToolCall(id="c1", name="read_file", arguments='{"path": "a"}')
    log.append(AssistantMessage(text="", tool_calls=[call]))
    log.close()
    with log.path.open("a") as handle:
        handle.write('{"seq": 3, "type": "tool_res')  # the crash hit mid-line
    again = SessionLog("s")
    again.append(UserMessage(text="two"))
    again.close()
    events = list(read_events(log.path))
    assert [e.type for e in events] == ["user_message", "assistant_message", "user_message"]
    conversation, _ = rebuild_conversation(events)
    roles = [m.role for m in conversation.messages]
    assert roles == ["user", "assistant", "tool", "user"]
    assert conversation.messages[2].tool_call_id == "c1" and conversation.messages[2].is_error


async def test_changes_to_different_files_are_asked_together(fake_server, workspace) -> None:
    (workspace / "b.py").write_text("two = 2\n")
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                edit("one = 1", "one = 10"),
                edit("two = 2", "two = 20", path="b.py"),
                ("run_command", {"command": "make check"}),
                edit("one = 10", "one = 100"),  # same file again: asked after the first lands
            ]
        ),
        openai_reply("ok"),
    )
    agent = make_agent(fake_server, workspace)
    order: list[str] = []
    async for event in agent.turn("go"):
        order.append(f"{event.type}:{getattr(event, 'call_id', '')}")
        if isinstance(event, ApprovalRequested):
            if event.call_id == "call_3":
                resolve(event, ApprovalAnswer(decision="reject"))
            elif event.call_id != "call_1":
                resolve(event, ApprovalAnswer(decision="approve"))
            else:
                first = event
        if order[-1] == "approval_requested:call_3":
            # All three of the first batch are on screen before any is answered.
            assert "approval_resolved:call_1" not in order
            resolve(first, ApprovalAnswer(decision="approve"))
    requested = [o for o in order if o.startswith("approval_requested")]
    assert requested == [f"approval_requested:call_{i}" for i in (1, 2, 3, 4)]
    assert order.index("approval_requested:call_4") > order.index("tool_result:call_1")
    assert (workspace / "a.py").read_text() == "one = 100\n"
    assert (workspace / "b.py").read_text() == "two = 20\n"
    agent.close()


async def test_clear_and_resume_are_logged_and_rebuilt(fake_server, workspace) -> None:
    fake_server.enqueue(openai_reply("first answer"), openai_reply("second answer"))
    first = make_agent(fake_server, workspace)
    await drive(first, "first question")
    first.clear_conversation()
    await drive(first, "second question")
    first.close()
    assert [m.content for m in first.conversation.messages] == [
        "second question",
        "second answer",
    ]
    rebuilt, _ = rebuild_conversation(read_events(first.log.path))
    assert rebuilt.messages == first.conversation.messages

    fake_server.enqueue(openai_reply("third answer"))
    second = make_agent(fake_server, workspace)
    assert second.resume_conversation(first.session_id) == 2
    await drive(second, "third question")
    second.close()
    sent = fake_server.requests[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "second question",
        "second answer",
        "third question",
    ]
    rebuilt, _ = rebuild_conversation(read_events(second.log.path))
    assert rebuilt.messages == second.conversation.messages


async def test_switching_the_model_reaches_the_wire_and_is_priced(fake_server, workspace) -> None:
    from nanotui.governance.cost import find_price

    fake_server.enqueue(openai_reply("ok"))
    agent = make_agent(fake_server, workspace)
    assert find_price("big", {}) is None
    agent.cost.prices = {"big": _price_config()}
    agent.switch_model("big")
    await drive(agent, "hi")
    assert fake_server.requests[0].body["model"] == "big"
    assert agent.provider.model == "big" and agent.cost.price is not None
    agent.close()


def _price_config():
    from nanotui.config import PriceConfig

    return PriceConfig(input_per_mtok=1.0, output_per_mtok=2.0)
