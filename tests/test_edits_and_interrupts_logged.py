"""The log tells the truth: a change the person edited is an edit, a stopped call is interrupted.

The engine runs against the loopback fake model server in a real temporary workspace; the
session log is read back from disk, as `nanotui audit show` and the timeline read it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from test_agent import drive, edit, make_agent, results
from test_secrets import fake

from nanotui.cli import audit_commands
from nanotui.governance.audit import read_records
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import ApprovalRequested, ApprovalResolved, ToolResult, TurnFinished
from nanotui.tui.timeline_rows import row_for_record

TOKEN = "ghp_" + fake(36)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("one = 1\n")
    return ws


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def logged(path: Path, kind: str) -> list[dict]:
    return [r["payload"] for r in read_records(path) if r["type"] == kind]


def timeline_summaries(path: Path) -> list[str]:
    return [row_for_record(record).summary or "" for record in read_records(path)]


async def test_an_edited_change_is_logged_as_an_edit_with_the_hash_of_what_was_applied(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("one = 1", "one = 2")]), openai_reply("ok"))
    agent = make_agent(fake_server, workspace)
    saved = f"one = 42\nkey = '{TOKEN}'\n"
    events = await drive(
        agent, "change it", lambda e: ApprovalAnswer(decision="approve", edited_text=saved)
    )
    agent.close()
    assert (workspace / "a.py").read_text() == saved
    [request] = [e for e in events if isinstance(e, ApprovalRequested)]
    [resolved] = [e for e in events if isinstance(e, ApprovalResolved)]
    [result] = results(events)
    assert resolved.decision == "edit"
    assert resolved.shown_sha256 == sha256(request.diff or "")
    assert result.diff and resolved.applied_sha256 == sha256(result.diff)
    assert resolved.applied_sha256 != resolved.shown_sha256
    edit_diff = resolved.edit_diff or ""
    assert "--- proposed/a.py" in edit_diff and "+++ edited/a.py" in edit_diff
    assert "-one = 2" in edit_diff and "+one = 42" in edit_diff

    # The log keeps the edit, through its redaction like every other text.
    [payload] = logged(agent.log.path, "approval_resolved")
    assert payload["decision"] == "edit" and payload["applied_sha256"] == resolved.applied_sha256
    assert "+one = 42" in payload["edit_diff"] and "[REDACTED:github_token]" in payload["edit_diff"]
    assert TOKEN not in agent.log.path.read_text()

    # The model learns the file is not what it proposed.
    sent = fake_server.requests[1].body["messages"][-1]
    assert sent["role"] == "tool"
    assert sent["content"].startswith("The user edited your proposed change")
    assert "+one = 42" in sent["content"] and TOKEN not in sent["content"]
    assert result.data.get("edited") is True


async def test_a_plain_approval_records_that_what_was_applied_is_what_was_shown(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("one = 1", "one = 2")]), openai_reply("ok"))
    agent = make_agent(fake_server, workspace)
    events = await drive(agent, "change it", lambda e: ApprovalAnswer(decision="approve"))
    agent.close()
    [resolved] = [e for e in events if isinstance(e, ApprovalResolved)]
    assert resolved.decision == "approve" and resolved.edit_diff is None
    assert resolved.applied_sha256 == resolved.shown_sha256
    assert "edited" not in results(events)[0].content


async def test_an_edit_reads_as_edited_in_audit_show_and_the_timeline(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("one = 1", "one = 2")]), openai_reply("ok"))
    agent = make_agent(fake_server, workspace)
    await drive(agent, "go", lambda e: ApprovalAnswer(decision="approve", edited_text="one = 3\n"))
    agent.close()
    shown = io.StringIO()
    audit_commands.show(agent.log.path, shown)
    [line] = [line for line in shown.getvalue().splitlines() if "approval_resolved" in line]
    assert "edited by user (+1 -1 against the proposal)" in line
    assert "edited by user (+1 -1 against the proposal)" in timeline_summaries(agent.log.path)


async def test_interrupting_while_approvals_wait_records_them_as_interrupted_not_refused(
    fake_server, workspace
) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[edit("one = 1", "one = 2"), ("run_command", {"command": "make check"})]
        )
    )
    agent = make_agent(fake_server, workspace)
    requests: list[ApprovalRequested] = []
    events = []
    async with asyncio.timeout(15):
        async for event in agent.turn("go"):
            events.append(event)
            if isinstance(event, ApprovalRequested):
                requests.append(event)
                if len(requests) == 2:
                    agent.cancel()  # what Esc and ctrl+q do
    agent.close()
    assert (workspace / "a.py").read_text() == "one = 1\n"
    assert all(r.future is not None and r.future.cancelled() for r in requests)
    resolved = [e for e in events if isinstance(e, ApprovalResolved)]
    assert [r.decision for r in resolved] == ["interrupted", "interrupted"]
    outcomes = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.interrupted, r.refused, r.ok) for r in outcomes] == [(True, False, False)] * 2
    assert all("Interrupted by the user while it waited" in r.content for r in outcomes)
    assert isinstance(events[-1], TurnFinished) and events[-1].status == "cancelled"
    # What the model will be told, and the log.
    told = [m.content for m in agent.conversation.messages if m.role == "tool"]
    assert told == [r.content for r in outcomes]
    assert [p["decision"] for p in logged(agent.log.path, "approval_resolved")] == [
        "interrupted",
        "interrupted",
    ]
    assert all(p["interrupted"] and not p["refused"] for p in logged(agent.log.path, "tool_result"))
    summaries = timeline_summaries(agent.log.path)
    assert not any("refused" in s for s in summaries)
    assert sum(s.startswith("interrupted by the user") for s in summaries) == 2
    assert any(s.startswith("edit_file interrupted: ") for s in summaries)
    shown = io.StringIO()
    audit_commands.show(agent.log.path, shown)
    assert shown.getvalue().count("interrupted by the user (Esc or quit)") == 2


async def test_interrupting_a_running_command_says_it_was_interrupted_while_it_ran(
    fake_server, workspace
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[("run_command", {"command": "sleep 30"})]))
    agent = make_agent(fake_server, workspace, mode="full-auto")
    events = []
    async with asyncio.timeout(15):
        async for event in agent.turn("wait"):
            events.append(event)
            if event.type == "tool_started":
                agent.cancel()
    agent.close()
    [result] = results(events)
    assert result.interrupted and not result.refused
    assert result.content.startswith("Interrupted by the user while it ran")
    out, err = io.StringIO(), io.StringIO()
    audit_commands.replay(agent.log.path, speed=0, as_json=False, out=out, err=err)
    assert "<- run_command interrupted: Interrupted by the user while it ran" in err.getvalue()
