"""The diff of an approval: parsing, side-by-side alignment, hunk selection from the keyboard,
and that the hunks selected on screen are exactly the hunks `apply_hunks` writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.token import Token
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from tools_support import make_ctx

from nanotui.protocol.diff_parse import LineKind, parse_diff
from nanotui.protocol.diffs import FileChange, apply_hunks, diff_hunks
from nanotui.tools.file_change import apply_change, make_change
from nanotui.tui.diff_colours import highlight_spans, lexer_name
from nanotui.tui.diff_layout import RowKind, cell_breaks, printable, split_rows, unified_rows
from nanotui.tui.resources import styles_dir
from nanotui.tui.widgets.diff_view import NARROW_TEXT, STALE_TEXT, DiffView

SAMPLE_OLD = '''"""Greetings."""

import os
import sys


def greet(name: str) -> str:
    """Say hello."""
    return f"Hello, {name}!"


def add(a: int, b: int) -> int:
    return a + b


def unused():
    pass


class Thing:
    value = 1

    def method(self):
        return self.value * 2


if __name__ == "__main__":
    print(greet("world"))
'''
SAMPLE_NEW = (
    SAMPLE_OLD.replace("import sys\n", "import sys\nimport json\n")
    .replace('"Hello, {name}!"', '"Hi there, {name}! This line is long enough to be cut short."')
    .replace("    value = 1\n", "    value = 42  # the answer\n    label = 'x'\n")
    .replace('    print(greet("world"))\n', '    print(greet("world"))\n    print(add(1, 2))')
)
"""Three hunks; the last adds a line at the end of the file without a final newline."""


def sample_change(root: Path, old: str = SAMPLE_OLD, new: str = SAMPLE_NEW) -> FileChange:
    (root / "demo").mkdir(exist_ok=True)
    target = root / "demo" / "greet.py"
    target.write_text(old)
    ctx = make_ctx(root)
    return make_change(ctx.workspace, "demo/greet.py", old, new, old.encode())


class DiffApp(App[None]):
    """Hosts one DiffView, full screen, with its stylesheet; keeps the messages it posts."""

    CSS_PATH = [str(styles_dir() / "diff_view.tcss")]

    def __init__(self, diff: str, path: str | None = None, *, split: bool = False) -> None:
        super().__init__()
        self.diff, self.path, self.split = diff, path, split
        self.changes: list[DiffView.SelectionChanged] = []

    def compose(self) -> ComposeResult:
        yield DiffView(self.diff, self.path, split=self.split)

    def on_diff_view_selection_changed(self, message: DiffView.SelectionChanged) -> None:
        self.changes.append(message)


def screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


# ---- parsing ------------------------------------------------------------------------------


def test_parse_numbers_each_line_in_old_and_new_files(tmp_path: Path) -> None:
    parsed = parse_diff(sample_change(tmp_path).diff)
    assert (parsed.old_path, parsed.new_path) == ("demo/greet.py", "demo/greet.py")
    assert len(parsed.hunks) == 3
    first = parsed.hunks[0]
    assert (first.old_start, first.old_count, first.new_start, first.new_count) == (2, 11, 2, 12)
    added = [line for line in first.lines if line.kind is LineKind.ADDED]
    assert (added[0].text, added[0].old_no, added[0].new_no) == ("import json", None, 5)
    context = first.lines[0]
    assert (context.kind, context.old_no, context.new_no) == (LineKind.CONTEXT, 2, 2)
    removed = next(line for line in first.lines if line.kind is LineKind.REMOVED)
    assert (removed.old_no, removed.new_no) == (9, None)


def test_parse_new_file_has_no_old_side() -> None:
    diff = "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
    parsed = parse_diff(diff)
    assert parsed.is_new_file and parsed.new_path == "pkg/new.py"
    lines = parsed.hunks[0].lines
    assert [(line.old_no, line.new_no) for line in lines] == [(None, 1), (None, 2)]


def test_empty_new_file_is_one_hunk_that_apply_hunks_creates(tmp_path: Path) -> None:
    change = make_change(make_ctx(tmp_path).workspace, "empty.txt", None, "", None)
    parsed = parse_diff(change.diff)
    assert len(parsed.hunks) == 1 and parsed.hunks[0].lines == []
    assert apply_hunks(change, [0]) == change


def test_no_newline_marker_flags_the_line_it_follows() -> None:
    diff = (
        "--- a/x.txt\n+++ b/x.txt\n@@ -1,2 +1,2 @@\n keep\n-old\n\\ No newline at end of file\n"
        "+new\n\\ No newline at end of file\n"
    )
    lines = parse_diff(diff).hunks[0].lines
    assert [(line.text, line.no_newline) for line in lines] == [
        ("keep", False),
        ("old", True),
        ("new", True),
    ]
    notes = [row for row in split_rows(parse_diff(diff)) if row.kind is RowKind.NOTE]
    assert len(notes) == 1 and notes[0].left == lines[1] and notes[0].right == lines[2]
    assert [row.kind for row in unified_rows(parse_diff(diff))].count(RowKind.NOTE) == 2


def test_hunk_indexes_are_those_of_diff_hunks_and_apply_hunks(tmp_path: Path) -> None:
    change = sample_change(tmp_path)
    parsed = parse_diff(change.diff)
    texts = diff_hunks(change)
    assert [hunk.header for hunk in parsed.hunks] == [text.splitlines()[0] for text in texts]
    for index, hunk in enumerate(parsed.hunks):
        narrowed = apply_hunks(change, [index])
        added = {line.text for line in hunk.lines if line.kind is LineKind.ADDED}
        others = {
            line.text
            for other in parsed.hunks
            if other is not hunk
            for line in other.lines
            if line.kind is LineKind.ADDED
        }
        assert all(text in narrowed.new_text for text in added)
        assert not any(text in narrowed.new_text for text in others)


def test_a_removed_line_starting_with_dashes_is_not_a_file_header() -> None:
    diff = "--- a/x.sql\n+++ b/x.sql\n@@ -1,2 +1 @@\n--- a comment\n keep\n"
    hunk = parse_diff(diff).hunks[0]
    assert [(line.kind, line.text) for line in hunk.lines] == [
        (LineKind.REMOVED, "-- a comment"),
        (LineKind.CONTEXT, "keep"),
    ]


def test_split_rows_pair_removed_left_and_added_right_with_blanks() -> None:
    diff = "--- a/x\n+++ b/x\n@@ -1,4 +1,5 @@\n top\n-r1\n-r2\n+a1\n+a2\n+a3\n bottom\n"
    rows = split_rows(parse_diff(diff))
    pairs = [
        (row.left.text if row.left else None, row.right.text if row.right else None)
        for row in rows
        if row.kind is RowKind.LINE
    ]
    assert pairs == [
        ("top", "top"),
        ("r1", "a1"),
        ("r2", "a2"),
        (None, "a3"),
        ("bottom", "bottom"),
    ]
    assert rows[0].kind is RowKind.HUNK_HEADER


def test_control_characters_show_as_symbols_and_tabs_expand() -> None:
    assert printable("\x1b[31mred\r") == "␛[31mred␍"
    assert printable("\tx = 1") == "    x = 1"


def test_lexer_follows_the_file_extension_and_falls_back_to_plain() -> None:
    assert lexer_name("src/app.py") == "python"
    assert lexer_name("notes.unknown-type") is None
    assert lexer_name(None) is None


def test_highlighting_colours_multi_line_strings_and_skips_huge_lines() -> None:
    styles = {Token.Literal.String: "green", Token.Keyword: "bold"}
    spans = highlight_spans(['x = """a', 'b"""', "def f(): pass"], "python", styles)
    assert {style for _, _, style in spans[1]} == {"green"} and spans[1][-1][1] == 4
    assert (0, 3, "bold") in spans[2]
    assert highlight_spans(["'" + "a" * 5000 + "'"], "python", styles) == [[]]
    assert highlight_spans(["x = 1"], None, styles) == [[]]


# ---- the widget, driven from the keyboard -------------------------------------------------


async def test_j_and_k_move_between_hunks_and_stop_at_the_ends(tmp_path: Path) -> None:
    app = DiffApp(sample_change(tmp_path).diff)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        assert view.has_focus and view.current_hunk == 0
        await pilot.press("j", "down")
        assert view.current_hunk == 2
        await pilot.press("j")
        assert view.current_hunk == 2
        await pilot.press("k", "up", "up")
        assert view.current_hunk == 0
        await pilot.pause()
        assert [message.current for message in app.changes] == [0, 1, 2, 1, 0]


async def test_space_toggles_the_current_hunk_and_reports_the_selection(tmp_path: Path) -> None:
    app = DiffApp(sample_change(tmp_path).diff)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        assert view.selected_hunks == [0, 1, 2]
        await pilot.press("j", "space")
        assert view.selected_hunks == [0, 2] and view.selected == {0, 2}
        await pilot.pause()
        last = app.changes[-1]
        assert (last.selected, last.current, last.hunk_count) == ((0, 2), 1, 3)
        await pilot.press("space")
        assert view.selected_hunks == [0, 1, 2]
        view.select_none()
        assert view.selected_hunks == []
        view.select_all()
        assert view.selected_hunks == [0, 1, 2]


async def test_a_click_makes_that_hunk_current(tmp_path: Path) -> None:
    app = DiffApp(sample_change(tmp_path).diff)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        last_header = view.parsed.hunks[2].header
        row = next(y for y in range(40) if last_header in view.render_line(y).text)
        await pilot.click(DiffView, offset=(20, row + 1))
        assert view.current_hunk == 2 and view.selected_hunks == [0, 1, 2]


async def test_s_switches_between_unified_and_split(tmp_path: Path) -> None:
    app = DiffApp(sample_change(tmp_path).diff)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        await pilot.press("s")
        assert view.split and view.showing_split and view.has_class("-split")
        await pilot.press("s")
        assert not view.split and not view.showing_split


async def test_split_falls_back_to_unified_with_a_note_when_too_narrow(tmp_path: Path) -> None:
    app = DiffApp(sample_change(tmp_path).diff, split=True)
    async with app.run_test(size=(50, 20)) as pilot:
        await pilot.pause()
        view = app.query_one(DiffView)
        assert view.split and not view.showing_split
        assert NARROW_TEXT in screen_text(app)


async def test_applying_the_selection_after_skipping_hunk_0_writes_the_other_two(
    tmp_path: Path,
) -> None:
    change = sample_change(tmp_path)
    app = DiffApp(change.diff, change.path)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        await pilot.press("space")
        selected = view.selected_hunks
    assert selected == [1, 2]
    result = apply_change(apply_hunks(change, selected), make_ctx(tmp_path))
    assert result.ok
    written = (tmp_path / "demo" / "greet.py").read_text()
    assert written == SAMPLE_NEW.replace("import sys\nimport json\n", "import sys\n").replace(
        '"Hi there, {name}! This line is long enough to be cut short."', '"Hello, {name}!"'
    )


async def test_moving_to_a_hunk_scrolls_it_into_view(tmp_path: Path) -> None:
    old = "".join(f"line {n}\n" for n in range(1, 301))
    new = old.replace("line 10\n", "changed 10\n").replace("line 250\n", "changed 250\n")
    change = sample_change(tmp_path, old, new)
    app = DiffApp(change.diff, "demo/lines.txt")
    async with app.run_test(size=(80, 8)) as pilot:
        view = app.query_one(DiffView)
        await pilot.press("j")
        await pilot.pause()
        assert view.scroll_offset.y > 0
        assert "changed 250" in screen_text(app)
        await pilot.press("k")
        await pilot.pause()
        assert view.scroll_offset.y == 0


def test_cell_breaks_keep_every_piece_within_the_width_wide_characters_included() -> None:
    text = "ab" + "漢字" * 5 + "cd"
    breaks = cell_breaks(text, 5)
    pieces = [text[a:b] for a, b in zip([0, *breaks], [*breaks, len(text)], strict=True)]
    assert "".join(pieces) == text
    assert all(cell_len(piece) <= 5 for piece in pieces)
    assert cell_breaks("short", 10) == []


@pytest.mark.parametrize("split", [False, True], ids=["unified", "split"])
async def test_a_long_line_wraps_rather_than_being_cut_in_a_view_without_choices(
    tmp_path: Path, split: bool
) -> None:
    """The checkpoint browser shows diffs this way (choosing off): nothing may be cut."""
    tail = "if item.quantity <= threshold and item.name not in excluded_names_for_this_report"
    old = (
        "x = 1\n" + "    return [item for item in stock.values() " + tail.replace("<=", "<") + "]\n"
    )
    new = "x = 1\n" + "    return [item for item in stock.values() " + tail + "]\n"
    change = sample_change(tmp_path, old, new)

    class BrowserLike(DiffApp):
        def compose(self) -> ComposeResult:
            yield DiffView(self.diff, "demo/report.py", split=split, choosing=False)

    app = BrowserLike(change.diff)
    async with app.run_test(size=(90 if split else 60, 20)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
    assert "…" not in shown and "↪" in shown
    if split:
        assert "<=" in shown
    else:  # the code, read back past the marker, both line numbers and the sign
        code = "".join(line[9:].rstrip() for line in shown.splitlines())
        assert tail.replace(" ", "") + "]" in code.replace(" ", "")
    assert "[x]" not in shown and "[ ]" not in shown


async def test_stale_diff_shows_the_banner(tmp_path: Path) -> None:
    app = DiffApp(sample_change(tmp_path).diff)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        view.stale = True
        await pilot.pause()
        assert STALE_TEXT in screen_text(app) and view.has_class("-stale")
        view.show(sample_change(tmp_path).diff)
        assert not view.stale


async def test_a_2000_line_diff_opens_and_scrolls_to_its_end(tmp_path: Path) -> None:
    old = "".join(f"value_{n} = {n}\n" for n in range(2000))
    new = "".join(
        f"value_{n} = {n * 2}\n" if n % 7 == 0 else f"value_{n} = {n}\n" for n in range(2000)
    )
    change = sample_change(tmp_path, old, new)
    app = DiffApp(change.diff, "demo/values.py")
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        await pilot.press("j", "s")
        view.scroll_end(animate=False)
        await pilot.pause()
        assert view.parsed.line_count > 2000 and view.scroll_offset.y > 1000


# ---- snapshots ----------------------------------------------------------------------------


@pytest.fixture
def snapshot_diff(tmp_path: Path) -> str:
    return sample_change(tmp_path).diff


async def skip_the_middle_hunk(pilot: Pilot[None]) -> None:
    await pilot.press("j", "space")
    await pilot.pause()


async def go_stale(pilot: Pilot[None]) -> None:
    pilot.app.query_one(DiffView).stale = True
    await pilot.pause()


class TestDiffSnapshots:
    """Unified and split, the middle hunk skipped (and current), wide and narrow."""

    @pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["wide", "narrow"])
    def test_unified(self, snap_compare, snapshot_diff: str, size: tuple[int, int]) -> None:
        app = DiffApp(snapshot_diff)
        assert snap_compare(app, terminal_size=size, run_before=skip_the_middle_hunk)

    @pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["wide", "narrow"])
    def test_split(self, snap_compare, snapshot_diff: str, size: tuple[int, int]) -> None:
        app = DiffApp(snapshot_diff, split=True)
        assert snap_compare(app, terminal_size=size, run_before=skip_the_middle_hunk)

    def test_stale(self, snap_compare, snapshot_diff: str) -> None:
        app = DiffApp(snapshot_diff)
        assert snap_compare(app, terminal_size=(80, 24), run_before=go_stale)
