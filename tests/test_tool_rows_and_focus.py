"""Tool rows by keyboard, and a focus that is never lost: the full-screen app against a real
loopback model server, driven with the keys a person presses.

Tool rows: Tab reaches them, Enter or space opens and closes the focused one, up and down move
between them, F1 lists those keys with their ids, and a closed row previews its output's first
and last lines. Focus: every focusable widget of the main screen shows when it has the focus;
Esc, or typing where typing does nothing (or with nothing focused), goes back to the prompt.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply, stalled_reply
from pilot_support import app_on_server, wait_for
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets.collapsible import CollapsibleTitle

from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.help import HelpScreen, binding_groups
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.timeline import Timeline
from nanotui.tui.widgets.tool_call_block import ToolCallBlock

SIZE = (120, 40)
# Thirty lines, some of which look like markup: they must show as they are.
NOTES = "".join(f"[bold red]note {i}[/]\n" if i % 10 == 0 else f"note {i}\n" for i in range(30))


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text(NOTES)
    (ws / "short.txt").write_text("one\ntwo\n")
    return ws


def make_app(
    server: FakeModelServer, workspace: Path, keys: dict[str, str] | None = None
) -> NanotuiApp:
    app = app_on_server(server, workspace, "focus-session", sandbox={"backend": "plain"})
    return NanotuiApp(app.session, keys=keys)


def enqueue_two_reads(server: FakeModelServer) -> None:
    server.enqueue(
        openai_reply(
            "Reading both.",
            tool_calls=[("read_file", {"path": "notes.txt"}), ("read_file", {"path": "short.txt"})],
        ),
        openai_reply("Read them."),
    )


def main_screen(app: NanotuiApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


def prompt_of(app: NanotuiApp) -> PromptInput:
    return app.screen.query_one(PromptInput)


async def run_turn(pilot: Pilot, text: str = "read") -> list[ToolCallBlock]:
    """Send `text`, wait for the turn to end; the tool rows it left."""
    app: NanotuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: prompt_of(app).has_focus, "the prompt to take focus")
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: app.session.busy or not main_screen(app).busy, "the turn")
    await wait_for(pilot, lambda: not main_screen(app).busy, "the turn to end")
    await pilot.pause()
    return list(app.screen.query(ToolCallBlock))


def title(block: ToolCallBlock) -> CollapsibleTitle:
    """The row's focusable title, where Tab and the arrow keys land."""
    return block.query_one(CollapsibleTitle)


async def tab_to(pilot: Pilot, goal: Widget, limit: int = 12) -> None:
    """Press Tab from where the focus is until `goal` has it."""
    for _ in range(limit):
        if pilot.app.focused is goal:
            return
        await pilot.press("tab")
        await pilot.pause()
    raise AssertionError(f"Tab never reached {goal!r}; the focus is on {pilot.app.focused!r}")


# ---- tool rows ----------------------------------------------------------------------------


async def test_tool_rows_open_and_close_by_keys_and_arrows_move_between_them(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    enqueue_two_reads(fake_server)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        notes, short = await run_turn(pilot)
        await tab_to(pilot, title(notes))
        assert notes.collapsed
        await pilot.press("space")
        await wait_for(pilot, lambda: not notes.collapsed, "space to open the row")
        await pilot.press("space")
        await wait_for(pilot, lambda: notes.collapsed, "space to close it again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not notes.collapsed, "enter to open it")
        await pilot.press("down")
        await wait_for(pilot, lambda: title(short).has_focus, "down to reach the next row")
        await pilot.press("up")
        await wait_for(pilot, lambda: title(notes).has_focus, "up to go back")
        assert short.collapsed  # only the row the keys were meant for opened


async def test_the_tool_row_key_is_listed_in_help_and_can_be_moved(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    enqueue_two_reads(fake_server)
    app = make_app(fake_server, workspace, keys={"chat.toggle_tool": "o"})
    assert app.notices == []  # the id is a real binding id
    async with app.run_test(size=SIZE) as pilot:
        notes, _ = await run_turn(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        groups = binding_groups(app.screen_stack[0])
        rows = {row.binding_id: row for group in groups for row in group.rows}
        assert rows["chat.toggle_tool"].keys == ("o",)
        assert rows["chat.toggle_tool"].description == "Show / hide the tool's output"
        assert {"chat.next_tool", "chat.previous_tool"} <= set(rows)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "help to close")
        await tab_to(pilot, title(notes))
        await pilot.press("o")
        await wait_for(pilot, lambda: not notes.collapsed, "the moved key to open the row")


async def test_a_closed_tool_row_previews_the_first_and_last_lines_of_its_output(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    enqueue_two_reads(fake_server)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        notes, short = await run_turn(pilot)
        preview = notes.query_one(".tool-preview")
        lines = notes.preview_text.splitlines()
        assert [line.split("\t")[-1] for line in lines] == [
            "[bold red]note 0[/]",  # as written: output is text, never markup
            "note 1",
            "… 26 more lines",
            "note 28",
            "note 29",
        ]
        assert preview.display and notes.collapsed
        assert short.preview_text.splitlines()[-1].endswith("two")  # short output comes whole
        await tab_to(pilot, title(notes))
        await pilot.press("enter")
        await wait_for(pilot, lambda: not preview.display, "the preview to give way to the output")


# ---- focus --------------------------------------------------------------------------------


def look(widget: Widget) -> list[list[tuple[str, object]]]:
    """What the widget itself draws (border, outline, background, text), with cell styles."""
    region = Region(0, 0, widget.outer_size.width, widget.outer_size.height)
    return [
        [(segment.text, segment.style) for segment in strip]
        for strip in widget.render_lines(region)
    ]


async def test_every_focusable_widget_of_the_main_screen_shows_when_it_has_the_focus(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    enqueue_two_reads(fake_server)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await run_turn(pilot)
        screen = main_screen(app)
        chain = list(screen.focus_chain)
        kinds = {type(widget) for widget in chain}
        assert {ChatView, ApprovalPanel, Timeline, PromptInput} <= kinds
        assert sum(isinstance(widget, CollapsibleTitle) for widget in chain) == 2  # tool rows
        unseen = []
        for widget in chain:
            screen.set_focus(None)
            await pilot.pause()
            blurred = look(widget)
            screen.set_focus(widget)
            await pilot.pause()
            if look(widget) == blurred:
                unseen.append(widget)
        assert unseen == []


async def test_typing_after_tab_goes_to_the_prompt_wherever_the_focus_went(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    enqueue_two_reads(fake_server)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await run_turn(pilot)
        prompt = prompt_of(app)
        stops = [widget for widget in main_screen(app).focus_chain if widget is not prompt]
        for stop in stops:
            await tab_to(pilot, stop)
            # y, e and s are the approval pane's keys: with nothing waiting they are letters.
            await pilot.press(*"yes")
            await pilot.pause()
            assert prompt.has_focus, f"typing on {stop!r} left the focus there"
            assert prompt.text == "yes", f"typing on {stop!r} gave {prompt.text!r}"
            prompt.clear()
        # Keys bound where the focus is still work: ? opens the help from the chat.
        await tab_to(pilot, app.screen.query_one(ChatView))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")


async def test_escape_brings_the_focus_back_to_the_prompt(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    enqueue_two_reads(fake_server)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await run_turn(pilot)
        prompt = prompt_of(app)
        stops = [widget for widget in main_screen(app).focus_chain if widget is not prompt]
        for stop in stops:
            await tab_to(pilot, stop)
            await pilot.press("escape")
            await pilot.pause()
            assert prompt.has_focus, f"Esc on {stop!r} left the focus on {app.focused!r}"


async def test_typing_with_nothing_focused_reaches_the_prompt(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        prompt = prompt_of(app)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        await tab_to(pilot, app.screen.query_one(Timeline))
        # The timeline folds away in a narrow terminal, and the focus with it.
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.focused is None, "the focus to be nowhere")
        await pilot.press(*"ok")
        await pilot.pause()
        assert prompt.has_focus
        assert prompt.text == "ok"


async def test_escape_in_the_chat_interrupts_the_turn_and_returns_to_the_prompt(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    fake_server.enqueue(stalled_reply(openai_reply("Thinking about it at length."), 2, 5.0))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        prompt = prompt_of(app)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: app.session.busy, "the turn to start")
        main_screen(app).set_focus(app.screen.query_one(ChatView))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not main_screen(app).busy, "the interrupted turn to end")
        assert prompt.has_focus


async def test_approval_keys_still_answer_while_the_pane_has_the_focus(
    fake_server: FakeModelServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "new.txt", "content": "x\n"})]),
        openai_reply("Not written, then."),
    )
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        prompt = prompt_of(app)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        await pilot.press(*"write", "enter")
        panel = app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: panel.request is not None and panel.armed, "the approval")
        await pilot.press("n", *"no thanks", "escape")  # Esc backs out of the reason
        await pilot.pause()
        assert panel.has_focus and panel.request is not None
        assert prompt.text == ""
        await pilot.press("n", *"not now", "enter")
        await wait_for(pilot, lambda: not main_screen(app).busy, "the turn to end")
    assert not (workspace / "new.txt").exists()
    last = fake_server.requests[1].body["messages"][-1]
    assert "not now" in last["content"]
