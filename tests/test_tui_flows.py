"""The full-screen app against a real loopback model server: the approval workflow by keys.

Each test scripts the model's replies, types into the real prompt and answers with the same
keys a person would press; waits poll the app's state with short pauses under a deadline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply, stalled_reply
from pilot_support import app_on_server, send, use_editor, wait_for
from textual.pilot import Pilot

from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.diff_view import DiffView
from nanotui.tui.widgets.status_bar import StatusBar

SIZE = (120, 40)
ORIGINAL = "".join(f"line{i} = {i}\n" for i in range(30))


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text(ORIGINAL)
    (ws / "b.py").write_text("b = 1\n")
    return ws


def make_app(server: FakeModelServer, workspace: Path, mode: str = "ask") -> NanotuiApp:
    return app_on_server(server, workspace, "flow-session", approval={"mode": mode})


def screen(app: NanotuiApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def pending(pilot: Pilot, count: int = 1) -> ApprovalPanel:
    panel = pilot.app.screen.query_one(ApprovalPanel)
    await wait_for(
        pilot, lambda: len(panel.pending) >= count and panel.armed, f"{count} approval(s)"
    )
    await pilot.pause()
    return panel


async def turn_over(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: not screen(pilot.app).busy, "the turn to end")  # type: ignore[arg-type]


def two_hunk_change() -> str:
    lines = ORIGINAL.splitlines(keepends=True)
    lines[1] = "line1 = 'first'\n"
    lines[25] = "line25 = 'second'\n"
    return "".join(lines)


async def test_approving_a_diff_changes_the_file(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "b.py", "old_string": "b = 1", "new_string": "b = 2"})
            ]
        ),
        openai_reply("Done."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change b")
        panel = await pending(pilot)
        assert (workspace / "b.py").read_text() == "b = 1\n"  # nothing before the key press
        assert panel.request is not None and panel.request.path == "b.py"
        await pilot.press("y")
        await turn_over(pilot)
    assert (workspace / "b.py").read_text() == "b = 2\n"


async def test_rejecting_with_a_reason_sends_it_to_the_model(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "b.py", "old_string": "b = 1", "new_string": "b = 2"})
            ]
        ),
        openai_reply("Understood."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change b")
        await pending(pilot)
        await pilot.press("n", *"keep it at one", "enter")
        await turn_over(pilot)
    assert (workspace / "b.py").read_text() == "b = 1\n"
    last = fake_server.requests[1].body["messages"][-1]
    assert last["role"] == "tool" and "Their reason: keep it at one" in last["content"]


async def test_approving_some_hunks_writes_exactly_those(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "a.py", "content": two_hunk_change()})]),
        openai_reply("Done."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "rewrite a")
        panel = await pending(pilot)
        diff = panel.query_one(DiffView)
        assert diff.hunk_count == 2 and diff.selected_hunks == [0, 1]
        await pilot.press("space")  # skip the first hunk
        await pilot.press("j")  # move to the second, keep it
        assert diff.selected_hunks == [1] and diff.current_hunk == 1
        await pilot.press("y")
        await turn_over(pilot)
    text = (workspace / "a.py").read_text()
    assert "line1 = 1\n" in text and "line25 = 'second'\n" in text


async def test_a_stale_diff_is_blocked_after_an_outside_edit(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "b.py", "old_string": "b = 1", "new_string": "b = 2"})
            ]
        ),
        openai_reply("I will read it again."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change b")
        panel = await pending(pilot)
        (workspace / "b.py").write_text("b = 1\n# my own edit\n")  # the user's editor
        await pilot.press("y")
        await pilot.pause()
        assert panel.request is not None, "a stale diff must not be approved"
        assert panel.has_class("-stale") and panel.query_one(DiffView).stale
        await pilot.press("n", "enter")
        await turn_over(pilot)
    assert (workspace / "b.py").read_text() == "b = 1\n# my own edit\n"


async def test_esc_interrupts_mid_stream(fake_server, workspace) -> None:
    fake_server.enqueue(stalled_reply(openai_reply("a long answer " * 30), 4, stall_s=20))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk")
        await wait_for(pilot, lambda: bool(app.screen.query(AssistantReply)), "text")
        await pilot.press("escape")
        await turn_over(pilot)
        reply = app.screen.query(AssistantReply).last()
        assert reply.has_class("-interrupted")
        assert app.screen.query_one(StatusBar).busy is False


async def test_changes_to_two_files_wait_together_and_tab_moves_between_them(
    fake_server, workspace
) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "a.py", "old_string": "line0 = 0", "new_string": "x = 0"}),
                ("edit_file", {"path": "b.py", "old_string": "b = 1", "new_string": "b = 3"}),
            ]
        ),
        openai_reply("Done."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change both")
        panel = await pending(pilot, 2)
        assert panel.request is not None and panel.request.path == "a.py"
        await pilot.press("tab")
        assert panel.request.path == "b.py"  # type: ignore[union-attr]
        await wait_for(pilot, lambda: panel.armed, "the keys to arm")
        await pilot.press("y")  # b.py
        await wait_for(pilot, lambda: len(panel.pending) == 1 and panel.armed, "a.py again")
        assert panel.request.path == "a.py"  # type: ignore[union-attr]
        await pilot.press("n", "enter")
        await turn_over(pilot)
    assert (workspace / "b.py").read_text() == "b = 3\n"
    assert (workspace / "a.py").read_text() == ORIGINAL


async def test_command_approval_shows_sub_commands_and_sandbox(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": "make lint && make test"})]),
        openai_reply("Ran."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "check")
        panel = await pending(pilot)
        shown = str(panel.query_one("#approval-command").render())
        backend = app.session.sandbox_backend
        assert "make lint" in shown and "make test" in shown and f"sandbox: {backend}" in shown
        await pilot.press("n", "enter")
        await turn_over(pilot)


async def test_modes_cycle_and_slash_mode_sets_one(fake_server, workspace) -> None:
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: status.mode == "ask", "ask mode")
        await pilot.press("shift+tab")
        assert status.mode == "auto-edit" and app.session.mode == "auto-edit"
        await send(pilot, "/mode plan")
        await wait_for(pilot, lambda: status.mode == "plan", "plan mode")
        assert app.session.mode == "plan"


async def test_editing_a_change_in_the_editor_applies_what_was_saved(
    fake_server, workspace, tmp_path, monkeypatch
) -> None:
    use_editor(tmp_path, monkeypatch, 'sed -i "s/b = 2/b = 42/" "$1"')
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "b.py", "old_string": "b = 1", "new_string": "b = 2"})
            ]
        ),
        openai_reply("Done."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change b")
        await pending(pilot)
        await pilot.press("e")
        await turn_over(pilot)
    assert (workspace / "b.py").read_text() == "b = 42\n"
