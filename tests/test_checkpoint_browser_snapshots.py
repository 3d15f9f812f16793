"""SVG snapshots of the checkpoint browser and the restore confirmation, at 120x40 and 80x24."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from pilot_support import wait_for
from test_checkpoint_browser import checkpointed_repo, confirm_screen, make_app, open_browser
from textual.pilot import Pilot
from textual.widgets import DataTable

from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens import checkpoints as browser_screen
from nanotui.tui.widgets import timeline
from nanotui.tui.widgets.diff_view import DiffView

SIZES = [(120, 40), (80, 24)]


@pytest.fixture
def app(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> NanotuiApp:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(timeline, "now", lambda: datetime(2026, 11, 29, 9, 30, 0))
    monkeypatch.setattr(browser_screen, "taken_at", lambda checkpoint: "09:30:00")
    return make_app(checkpointed_repo(tmp_path))


async def browser(pilot: Pilot) -> None:
    screen = await open_browser(pilot)
    diff = screen.query_one(DiffView)
    await wait_for(pilot, lambda: diff.parsed.new_path == "a.py", "a.py's diff")
    # The table widens its columns to the rows when next idle: wait for that, or the picture
    # may catch the ids cut to the header's width.
    table = screen.query_one("#checkpoint-list", DataTable)

    def drawn_whole() -> bool:
        first = str(table.get_row_at(0)[0]) if table.row_count else "?"
        return any(first in table.render_line(y).text for y in range(min(3, table.size.height)))

    try:
        await wait_for(pilot, drawn_whole, "the ids drawn at full width", timeout=30)
    except AssertionError as exc:
        # Say what the table held: this once timed out because a frame drawn before the
        # table measured its rows was kept (MeasuredTable now draws afresh after).
        lines = [table.render_line(y).text for y in range(min(3, table.size.height))]
        widths = [column.get_render_width(table) for column in table.columns.values()]
        first = table.get_row_at(0)[0] if table.row_count else None
        raise AssertionError(
            f"{exc}: rows {table.row_count}, first {first!r}, "
            f"lines {lines!r}, widths {widths}, scroll {table.scroll_offset}, "
            f"size {table.size}, cursor {table.cursor_coordinate}"
        ) from None
    await pilot.pause()


async def confirmation(pilot: Pilot) -> None:
    await browser(pilot)
    await pilot.press("r")
    await confirm_screen(pilot)
    await pilot.pause()


VIEWS: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "browser": browser,
    "restore_confirmation": confirmation,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_snapshot(snap_compare, app: NanotuiApp, view: str, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=VIEWS[view])
