"""In the app: an edited change reads as edited, a stopped one as interrupted, never refused.

Against the loopback model server with the keys a person presses; the chat's tool row, the
side timeline and the session log on disk are all checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_model_server import openai_reply
from pilot_support import use_editor, wait_for
from test_tui_flows import SIZE, make_app, pending, send, turn_over

from nanotui.governance.audit import read_records
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.timeline import Timeline


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "b.py").write_text("b = 1\n")
    return ws


def timeline_text(app: NanotuiApp) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one(Timeline).lines)


def logged(app: NanotuiApp, kind: str) -> list[dict]:
    assert app.session.log_path is not None
    return [r["payload"] for r in read_records(app.session.log_path) if r["type"] == kind]


def change_b() -> str:
    return openai_reply(
        tool_calls=[("edit_file", {"path": "b.py", "old_string": "b = 1", "new_string": "b = 2"})]
    )


async def test_a_change_edited_in_the_editor_reads_as_edited_in_the_timeline_and_log(
    fake_server, workspace, tmp_path, monkeypatch
) -> None:
    use_editor(tmp_path, monkeypatch, 'sed -i "s/b = 2/b = 42/" "$1"')
    fake_server.enqueue(change_b(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change b")
        await pending(pilot)
        await pilot.press("e")
        await turn_over(pilot)
        assert "edited by user (+1 -1 against the proposal)" in timeline_text(app)
        [resolved] = logged(app, "approval_resolved")
    assert (workspace / "b.py").read_text() == "b = 42\n"
    assert resolved["decision"] == "edit" and "+b = 42" in resolved["edit_diff"]
    told = fake_server.requests[1].body["messages"][-1]["content"]
    assert told.startswith("The user edited your proposed change")


async def test_esc_while_a_change_waits_marks_it_interrupted_not_refused(
    fake_server, workspace
) -> None:
    fake_server.enqueue(change_b())
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change b")
        await pending(pilot)
        await pilot.press("escape")
        await turn_over(pilot)
        [block] = app.screen.query_one(ChatView).query("ToolCallBlock")
        await wait_for(pilot, lambda: block.status == "interrupted", "the row to say interrupted")
        await pilot.pause()
        assert "[interrupted]" in str(block.title) and "refused" not in str(block.title)
        timeline = timeline_text(app)
        assert "interrupted by the user" in timeline and "edit_file interrupted" in timeline
        assert "refused" not in timeline
    assert (workspace / "b.py").read_text() == "b = 1\n"
    [resolved] = logged(app, "approval_resolved")
    [result] = logged(app, "tool_result")
    assert resolved["decision"] == "interrupted"
    assert result["interrupted"] and not result["refused"]


@pytest.mark.parametrize("stage", ["waiting", "running"])
async def test_quitting_while_a_command_waits_or_runs_logs_it_as_interrupted(
    fake_server, workspace: Path, stage: str
) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[("run_command", {"command": "sleep 30"})]))
    app = make_app(fake_server, workspace, mode="full-auto" if stage == "running" else "ask")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "wait")
        if stage == "waiting":
            await pending(pilot)
        else:
            await wait_for(pilot, lambda: bool(logged(app, "tool_started")), "the command to run")
        await pilot.press("ctrl+q")
    [result] = logged(app, "tool_result")
    assert result["interrupted"] and not result["refused"]
    assert result["content"].startswith(
        "Interrupted by the user while it "
        + ("waited for approval" if stage == "waiting" else "ran")
    )
    if stage == "waiting":
        assert [p["decision"] for p in logged(app, "approval_resolved")] == ["interrupted"]
