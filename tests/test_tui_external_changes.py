"""The full-screen app sees edits made outside it: the pending diff goes stale while shown.

A real loopback model server proposes a change; the test edits the file on disk as the
user's editor would, presses nothing, and waits (under a deadline) for the stale banner.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from pilot_support import app_on_server, wait_for
from textual.pilot import Pilot
from textual.widgets._toast import Toast

from nanotui.governance.audit import read_events
from nanotui.protocol.events import FileChangedExternally
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.diff_view import DiffView
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.timeline import Timeline

SIZE = (120, 40)
WAIT_S = 3.0


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "b.py").write_text("b = 1\n")
    return ws


def make_app(server: FakeModelServer, workspace: Path) -> NanotuiApp:
    return app_on_server(server, workspace, "external-session", approval={"mode": "ask"})


def timeline_text(app: NanotuiApp) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one(Timeline).lines)


async def watching(pilot: Pilot, app: NanotuiApp) -> None:
    watcher = app.session.local_agent.watcher
    await wait_for(
        pilot,
        lambda: watcher is not None and watcher.watching.is_set(),
        "the workspace watcher to start",
        WAIT_S,
    )


async def test_a_pending_diff_goes_stale_live_when_the_file_is_edited_on_disk(
    fake_server, workspace
) -> None:
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
        assert isinstance(app.screen, MainScreen)
        await watching(pilot, app)
        prompt = app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        await pilot.press(*"change b", "enter")
        panel = app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: panel.armed, "the approval", WAIT_S)
        assert not panel.has_class("-stale")

        (workspace / "b.py").write_text("b = 1\n# my own edit\n")  # the user's editor
        await wait_for(pilot, lambda: panel.has_class("-stale"), "the stale banner", WAIT_S)
        assert panel.query_one(DiffView).stale
        assert "changed outside nanotui: b.py (modified)" in timeline_text(app)

        await pilot.press("y")
        await pilot.pause()
        assert panel.request is not None, "a stale diff must not be approved"
        await pilot.press("n", "enter")
        await wait_for(pilot, lambda: not app.screen.busy, "the turn to end", WAIT_S)
    assert (workspace / "b.py").read_text() == "b = 1\n# my own edit\n"
    assert app.session.log_path is not None
    logged = [e for e in read_events(app.session.log_path) if isinstance(e, FileChangedExternally)]
    assert [e.paths for e in logged] == [["b.py"]]


async def test_an_approved_change_does_not_read_as_an_outside_edit(fake_server, workspace) -> None:
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
        await watching(pilot, app)
        prompt = app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        await pilot.press(*"change b", "enter")
        panel = app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: panel.armed, "the approval", WAIT_S)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.screen.busy, "the turn to end", WAIT_S)
        (workspace / "other.txt").write_text("from outside")  # the sentinel
        await wait_for(
            pilot, lambda: "other.txt" in timeline_text(app), "the sentinel's row", WAIT_S
        )
        assert "b.py (modified)" not in timeline_text(app)
    assert (workspace / "b.py").read_text() == "b = 2\n"


async def test_a_file_name_shows_as_it_is_never_as_markup_or_escape_sequences(
    fake_server, workspace
) -> None:
    # Anything that can write in the workspace names its files: a sandboxed command, an MCP
    # server, the repository's author.
    name = "[@click=app.quit][b]\x1b[8mquiet"
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app)
        (workspace / name).write_text("planted")
        await wait_for(pilot, lambda: "quiet" in timeline_text(app), "the file's row", WAIT_S)
        assert "[@click=app.quit][b]␛[8mquiet (added)" in timeline_text(app)
        [notification] = app._notifications
        # Its message as the corner of the screen shows it (the title needs a mounted toast).
        shown = Toast(replace(notification, title="")).render()
        assert "[@click=app.quit][b]␛[8mquiet" in shown.plain
        assert not [span for span in shown.spans if "click" in str(span.style)]
