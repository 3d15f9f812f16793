"""The approval pane keeps its promise: what you approve is exactly what you saw and chose.

Driven by keys against a real loopback model server that proposes two files with two hunks
each in one reply (tests/multi_hunk_session.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_model_server import openai_reply
from multi_hunk_session import (
    INVENTORY,
    INVENTORY_NEW,
    LONG_NEW,
    LONG_OLD,
    REASON,
    REPORT,
    REPORT_NEW,
    ask_for_both,
    make_app,
    make_workspace,
    two_file_reply,
)
from pilot_support import use_editor, wait_for
from textual.pilot import Pilot

from nanotui.tui.diff_colours import intraline_ranges
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.approval_panel import ARMING_NOTE, TOO_SOON, ApprovalPanel
from nanotui.tui.widgets.diff_view import DiffView
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.status_bar import StatusBar

SIZE = (120, 40)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    return make_workspace(tmp_path / "ws")


async def turn_over(pilot: Pilot) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    await wait_for(pilot, lambda: not screen.busy, "the turn to end")


def diff_text(view: DiffView) -> str:
    """Every screen line of the diff as drawn (the view is scrolled through, then back)."""
    lines = []
    height = view.scrollable_content_region.height
    total = view.virtual_size.height
    top = view.scroll_offset.y
    for start in range(0, total, max(1, height)):
        view.scroll_to(y=start, animate=False, immediate=True)
        lines += [view.render_line(y).text for y in range(min(height, total - start))]
    view.scroll_to(y=top, animate=False, immediate=True)
    return "\n".join(lines)


# ---- 1: choices belong to the change ----------------------------------------------------


async def test_hunk_choices_survive_tab_away_and_back_and_only_chosen_hunks_are_written(
    fake_server, workspace
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        assert panel.request is not None and panel.request.path == "inventory.py"
        await pilot.press("j", "space")  # skip the second hunk of inventory.py
        assert panel.query_one(DiffView).selected_hunks == [0]
        await pilot.press("tab")
        assert panel.request.path == "report.py"  # type: ignore[union-attr]
        await pilot.press("tab")  # and back
        assert panel.request.path == "inventory.py"  # type: ignore[union-attr]
        view = panel.query_one(DiffView)
        assert view.selected_hunks == [0], "the skipped hunk must stay skipped"
        assert view.current_hunk == 1
        assert "[ ] @@" in diff_text(view)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(panel.pending) == 1 and panel.armed, "report.py")
        await pilot.press("n", "enter")
        await turn_over(pilot)
    written = (workspace / "inventory.py").read_text()
    assert "LIMIT = 20" in written
    assert "raise ValueError" not in written, "the skipped hunk was written"
    assert (workspace / "report.py").read_text() == REPORT


async def test_hunk_choices_survive_shift_tab_resize_and_the_split_toggle(
    fake_server, workspace
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        await pilot.press("space")  # skip the first hunk of inventory.py
        await pilot.press("shift+tab")  # to report.py (wraps around)
        assert panel.request.path == "report.py"  # type: ignore[union-attr]
        await pilot.press("j", "space")  # skip the long-line fix in report.py
        await pilot.press("s")
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        await pilot.press("shift+tab")
        assert panel.query_one(DiffView).selected_hunks == [1]
        await pilot.press("s")
        await pilot.resize_terminal(*SIZE)
        await pilot.press("tab")
        assert panel.query_one(DiffView).selected_hunks == [0]
        await pilot.press("y")  # report.py: only its title
        await wait_for(pilot, lambda: len(panel.pending) == 1 and panel.armed, "inventory.py")
        await pilot.press("y")  # inventory.py: only the check
        await turn_over(pilot)
    assert (workspace / "report.py").read_text() == REPORT.replace("Stock", "Stock report")
    assert (workspace / "inventory.py").read_text() == INVENTORY_NEW.replace(
        "LIMIT = 20", "LIMIT = 10"
    )


async def test_everything_approved_writes_both_files_whole(fake_server, workspace) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(panel.pending) == 1 and panel.armed, "the second")
        await pilot.press("y")
        await turn_over(pilot)
    assert (workspace / "inventory.py").read_text() == INVENTORY_NEW
    assert (workspace / "report.py").read_text() == REPORT_NEW


async def test_the_editor_opens_only_the_ticked_hunks_so_an_unticked_one_stays_out(
    fake_server, workspace, tmp_path, monkeypatch
) -> None:
    use_editor(tmp_path, monkeypatch, 'printf "# reviewed\\n" >> "$1"')
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        await pilot.press("j", "space")  # untick the second hunk of inventory.py
        await pilot.press("e")
        await wait_for(pilot, lambda: len(panel.pending) == 1 and panel.armed, "report.py")
        await pilot.press("n", "enter")
        await turn_over(pilot)
    written = (workspace / "inventory.py").read_text()
    assert "LIMIT = 20" in written and written.endswith("# reviewed\n")
    assert "raise ValueError" not in written, "the unticked hunk came back through the editor"


# ---- 2: long lines and changes within a line ---------------------------------------------


def test_the_words_that_changed_within_a_line_are_found() -> None:
    old, new = intraline_ranges(LONG_OLD.rstrip("\n"), LONG_NEW.rstrip("\n"))
    assert [LONG_OLD[a:b] for a, b in old] == ["<"]
    assert [LONG_NEW[a:b] for a, b in new] == ["<="]
    assert intraline_ranges("alpha beta", "completely different words here") == ([], [])


async def test_a_long_line_wraps_so_the_one_character_fix_is_on_screen(
    fake_server, workspace
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        await pilot.press("tab", "j")  # report.py, its second hunk
        view = panel.query_one(DiffView)
        assert view.size.width < len(LONG_NEW)  # the line does not fit the pane
        shown = diff_text(view).splitlines()
        gutter = 1 + 2 * view._digits + 2  # the marker, both line numbers
        for sign, text in (("-", LONG_OLD), ("+", LONG_NEW)):
            first = next(
                i
                for i, line in enumerate(shown)
                if line[gutter:].startswith(sign + " ") and "return sorted" in line
            )
            code = shown[first][gutter + 2 :]
            for line in shown[first + 1 :]:
                if "↪" not in line[:gutter]:
                    break
                code += line[gutter + 2 :]
            assert code.rstrip() == text.rstrip("\n"), "the whole line must be on screen"
        await pilot.press("s")
        await pilot.pause()
        split_shown = diff_text(view)
        assert "↪" in split_shown and "<=" in split_shown and "…" not in split_shown
        # The changed characters are marked on the added line.
        added = next(
            line
            for hunk in view.parsed.hunks
            for line in hunk.lines
            if line.text == LONG_NEW.rstrip("\n")
        )
        view._code_of(added, 1)
        assert [added.text[a:b] for a, b in view.changed_ranges(added)] == ["<="]
        await pilot.press("n", "enter")


async def test_the_approval_gets_room_and_m_maximises_it_with_the_reason(
    fake_server, workspace
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        view = panel.query_one(DiffView)
        assert view.size.height >= 15, f"only {view.size.height} diff lines at 120x40"
        await pilot.press("m")
        await pilot.pause()
        assert panel.is_maximized
        context = panel.query_one("#approval-context")
        assert context.display and "comparison becomes <=" in str(context.render())
        assert view.size.height >= 25
        await pilot.press("m")
        await pilot.pause()
        assert not panel.is_maximized
        await pilot.press("n", "enter")


async def test_at_80x24_the_models_reason_stays_in_view_beside_the_diff(
    fake_server, workspace
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await ask_for_both(pilot)
        context = panel.query_one("#approval-context")
        assert context.display and context.size.height >= 1
        assert context.region.y < pilot.app.size.height
        assert REASON.split(".")[0][:30] in str(context.render())
        await pilot.press("n", "enter")


# ---- 3: shift+tab ------------------------------------------------------------------------


async def test_shift_tab_in_the_pane_goes_to_the_previous_item_not_the_mode(
    fake_server, workspace
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        status = pilot.app.screen.query_one(StatusBar)
        await pilot.press("shift+tab")
        assert panel.request.path == "report.py"  # type: ignore[union-attr]
        await pilot.press("shift+tab")
        assert panel.request.path == "inventory.py"  # type: ignore[union-attr]
        assert status.mode == "ask" and app.session.mode == "ask"
        await pilot.press("n", "enter")


# ---- 4: no key lost, none taken too soon --------------------------------------------------


async def test_a_key_pressed_while_the_keys_arm_is_refused_visibly_not_dropped(
    fake_server, workspace, monkeypatch
) -> None:
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 5.0)
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        prompt = pilot.app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
        await pilot.press(*"fix both", "enter")
        panel = pilot.app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: len(panel.pending) == 2, "two approvals")
        await pilot.pause()
        assert ARMING_NOTE in str(panel.query_one("#approval-keys").render())
        await pilot.press("y")
        await pilot.pause()
        assert len(panel.pending) == 2 and (workspace / "inventory.py").read_text() == INVENTORY
        messages = [n.message for n in pilot.app._notifications]
        assert TOO_SOON in messages, "a refused key must say why"
        panel._arm()
        assert ARMING_NOTE not in str(panel.query_one("#approval-keys").render())
        await pilot.press("n", "enter")
        await wait_for(pilot, lambda: len(panel.pending) == 1, "the second")
        panel._arm()
        await pilot.press("n", "enter")
        await turn_over(pilot)


async def test_a_key_pressed_right_after_tab_shows_the_next_item_is_not_lost(
    fake_server, workspace, monkeypatch
) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 5.0)  # no waiting from here on
        await pilot.press("tab")
        await pilot.pause()  # one frame: report.py is drawn
        await pilot.press("y")
        await wait_for(pilot, lambda: len(panel.pending) == 1, "report.py to be answered")
        panel._arm()
        await pilot.press("n", "enter")
        await turn_over(pilot)
    assert (workspace / "report.py").read_text() == REPORT_NEW


# ---- the stale footer ----------------------------------------------------------------------


async def test_a_stale_diff_does_not_offer_y(fake_server, workspace) -> None:
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        panel = await ask_for_both(pilot)
        keys = panel.query_one("#approval-keys")
        assert "y apply" in str(keys.render())
        (workspace / "inventory.py").write_text(INVENTORY + "# mine\n")
        panel.recheck_stale(["inventory.py"])
        await pilot.pause()
        shown = str(keys.render())
        assert "y apply" not in shown and "n reject" in shown
        await pilot.press("n", "enter")
