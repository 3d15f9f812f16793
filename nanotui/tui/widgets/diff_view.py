"""A proposed change as a diff you can review and narrow hunk by hunk before it is applied.

Line API (`ScrollView` + `render_line`): only the visible rows are drawn, and a hunk is
syntax-coloured the first time one of its rows is, so a diff of thousands of lines opens as
fast as a short one. Hunk `i` here is hunk `i` of `apply_hunks`: `selected_hunks` is exactly
what approving writes.

A diff must never hide a change: long lines wrap (continuation rows carry a ↪ in the number
column) rather than being cut or scrolled sideways, and the words that changed within a line
are marked, so a one-character fix such as `<` to `<=` stands out. How a row is painted
lives in `diff_rows.py`; this file holds the state, the keys, the layout and the scrolling.
"""

from __future__ import annotations

import textwrap
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.content import Content, Span
from textual.geometry import Size
from textual.highlight import HighlightTheme
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nanotui.protocol.diff_parse import DiffLine, parse_diff
from nanotui.tui.diff_colours import (
    Ranges,
    changed_pairs,
    highlight_spans,
    intraline_ranges,
    lexer_name,
)
from nanotui.tui.diff_layout import (
    SplitRow,
    UnifiedRow,
    hunk_row_spans,
    printable,
    row_height,
    side_texts,
    split_rows,
    unified_rows,
)
from nanotui.tui.widgets.diff_rows import DiffRowPainter

SPLIT_MIN_WIDTH = 60
"""Below this many columns the split view would leave too little code per side."""
STALE_TEXT = "The file changed on disk since this diff was computed; it cannot be approved."
NARROW_TEXT = f"Split view needs {SPLIT_MIN_WIDTH}+ columns."
EMPTY_TEXT = "No changes."


@dataclass
class HunkChoices:
    """Which hunks of one proposed change would be applied, and the hunk the keys act on.

    Owned by whoever owns the change (the approval pane keeps one per pending request), and
    shared with the view that shows it: choices survive the view being rebuilt (tab to
    another change and back, a resize, the split toggle).
    """

    selected: set[int] = field(default_factory=set)
    current: int = 0

    @classmethod
    def all_of(cls, hunk_count: int) -> HunkChoices:
        return cls(set(range(hunk_count)))


def diff_line_style(line: str) -> str:
    """The style of one line of a unified diff (for diffs shown in brief, outside DiffView)."""
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("+"):
        return "$text-success"
    if line.startswith("-"):
        return "$text-error"
    if line.startswith("@@"):
        return "cyan"
    return ""


def diff_content(diff: str) -> Content:
    """Colour a unified diff: additions green, removals red, hunk headers cyan."""
    return Content("\n").join(
        Content.styled(line, diff_line_style(line)) for line in diff.splitlines()
    )


class DiffView(DiffRowPainter, ScrollView, can_focus=True):
    """A diff with line numbers and syntax colours, unified or split, and hunk selection."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "next_hunk", "Next hunk", id="diff.next_hunk"),
        Binding("up,k", "previous_hunk", "Previous hunk", id="diff.previous_hunk"),
        Binding("space", "toggle_hunk", "Select/skip hunk", id="diff.toggle_hunk"),
        Binding("s", "toggle_view", "Split/unified", id="diff.toggle_view"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--added",
        "diff-view--removed",
        "diff-view--added-changed",
        "diff-view--removed-changed",
        "diff-view--filler",
        "diff-view--hunk-header",
        "diff-view--hunk-header-current",
        "diff-view--stale-banner",
        "diff-view--info",
        # Laid over the ones above: these should set only color and text-style.
        "diff-view--line-number",
        "diff-view--added-sign",
        "diff-view--removed-sign",
        "diff-view--gutter-selected",
        "diff-view--gutter-deselected",
        "diff-view--deselected",
        "diff-view--note",
        "diff-view--stale",
    }

    split: reactive[bool] = reactive(False)
    """Side by side (old left, new right) instead of unified."""
    current_hunk: reactive[int] = reactive(0)
    """The hunk the keys act on (0-based, as `apply_hunks` counts)."""
    stale: reactive[bool] = reactive(False)
    """The file changed on disk since the diff was computed: shown dimmed, with a banner."""

    class SelectionChanged(Message):
        """The selected hunks or the current hunk changed (or a new diff was shown)."""

        def __init__(self, selected: tuple[int, ...], current: int, *, hunk_count: int = 0):
            super().__init__()
            self.selected = selected
            """The hunks approving would apply, sorted."""
            self.current = current
            self.hunk_count = hunk_count

    def __init__(
        self,
        diff: str = "",
        path: str | None = None,
        *,
        split: bool = False,
        choosing: bool = True,
        choices: HunkChoices | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._strips: LRUCache[tuple[int, bool, int], list[Strip]] = LRUCache(1024)
        self.choosing = choosing
        """Hunk headers carry a [x] box (approving some hunks); off where nothing is chosen."""
        self.set_reactive(DiffView.split, split)
        self.set_class(split, "-split")
        self._starts: list[int] = []
        self._layout_key: tuple[bool, int] | None = None
        self._load(diff, path, choices)

    # ---- content ------------------------------------------------------------------------

    def show(self, diff: str, path: str | None = None) -> None:
        """Show a new diff, all hunks selected (path picks the colours; default: the diff's)."""
        self._load(diff, path)
        self.set_reactive(DiffView.stale, False)
        self.set_class(False, "-stale")
        self._relayout()
        self.scroll_to(0, 0, animate=False)
        self._post_selection()

    def _load(self, diff: str, path: str | None, choices: HunkChoices | None = None) -> None:
        self.parsed = parse_diff(diff)
        self._language = lexer_name(path or self.parsed.new_path or self.parsed.old_path)
        self._code: dict[DiffLine, Content] = {}
        self._changed_ranges: dict[DiffLine, Ranges] = {}
        self._coloured: set[int] = set()
        self._unified = unified_rows(self.parsed)
        self._split = split_rows(self.parsed)
        self._unified_spans = hunk_row_spans(self._unified)
        self._split_spans = hunk_row_spans(self._split)
        self.choices = choices if choices is not None else HunkChoices.all_of(self.hunk_count)
        self.choices.selected &= set(range(self.hunk_count))
        self.set_reactive(DiffView.current_hunk, self.validate_current_hunk(self.choices.current))
        self._digits = max(2, len(str(self.parsed.last_line_number)))
        self._layout_key = None

    @property
    def _selected(self) -> set[int]:
        return self.choices.selected

    def _code_of(self, line: DiffLine, hunk: int) -> Content:
        """The line, syntax-coloured, its changed words marked; each side of a hunk is lexed
        once, when first shown."""
        if hunk not in self._coloured:
            self._coloured.add(hunk)
            for side in side_texts(self.parsed.hunks[hunk]):
                texts = [printable(each.text) for each in side]
                spans = highlight_spans(texts, self._language, HighlightTheme.STYLES)
                for each, text, line_spans in zip(side, texts, spans, strict=True):
                    styled = Content(text, [Span(*span) for span in line_spans])
                    self._code.setdefault(each, styled)  # context: the old side's will do
            for old, new in changed_pairs(self.parsed.hunks[hunk]):
                old_ranges, new_ranges = intraline_ranges(printable(old.text), printable(new.text))
                self._changed_ranges[old], self._changed_ranges[new] = old_ranges, new_ranges
        return self._code[line]

    def changed_ranges(self, line: DiffLine) -> Ranges:
        """The parts of a removed or added line that differ from its counterpart."""
        return self._changed_ranges.get(line, [])

    # ---- selection ----------------------------------------------------------------------

    @property
    def hunk_count(self) -> int:
        return len(self.parsed.hunks)

    @property
    def selected(self) -> set[int]:
        """The hunks that approving would apply (a copy; assign to change it)."""
        return set(self._selected)

    @selected.setter
    def selected(self, hunks: Iterable[int]) -> None:
        self.choices.selected = {index for index in hunks if 0 <= index < self.hunk_count}
        self._changed()

    @property
    def selected_hunks(self) -> list[int]:
        """The selected hunks, sorted: what to pass to `apply_hunks`."""
        return sorted(self._selected)

    def toggle_hunk(self, index: int | None = None) -> None:
        """Select or skip one hunk (the current one by default)."""
        index = self.current_hunk if index is None else index
        if 0 <= index < self.hunk_count:
            self.choices.selected ^= {index}
            self._changed()

    def select_all(self) -> None:
        self.selected = range(self.hunk_count)

    def select_none(self) -> None:
        self.selected = ()

    def _changed(self) -> None:
        self._strips.clear()
        self.refresh()
        self._post_selection()

    def _post_selection(self) -> None:
        selected = tuple(self.selected_hunks)
        self.post_message(
            self.SelectionChanged(selected, self.current_hunk, hunk_count=self.hunk_count)
        )

    # ---- actions, watchers, events ------------------------------------------------------

    def action_next_hunk(self) -> None:
        self.current_hunk += 1

    def action_previous_hunk(self) -> None:
        self.current_hunk -= 1

    def action_toggle_hunk(self) -> None:
        self.toggle_hunk()

    def action_toggle_view(self) -> None:
        self.split = not self.split

    def validate_current_hunk(self, index: int) -> int:
        return max(0, min(index, self.hunk_count - 1))

    def watch_current_hunk(self) -> None:
        self.choices.current = self.current_hunk
        self._strips.clear()
        self.refresh()
        self.scroll_to_hunk(self.current_hunk)
        self._post_selection()

    def watch_split(self) -> None:
        self.set_class(self.split, "-split")
        self._relayout()
        self.scroll_to_hunk(self.current_hunk, top=True)

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "-stale")
        self._relayout()

    def on_mount(self) -> None:
        self._post_selection()  # so a listener can show "3 of 3 hunks selected" at once

    def on_resize(self) -> None:
        self._relayout()

    def on_click(self, event: events.Click) -> None:
        """A click on a hunk makes it the current one (space then toggles it)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        pinned = len(self._pinned(self.scrollable_content_region.width))
        located = self._row_at(self.scroll_offset.y + offset.y - pinned)
        if located is not None:
            self.current_hunk = self._rows()[located[0]].hunk

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    # ---- layout -------------------------------------------------------------------------

    @property
    def showing_split(self) -> bool:
        """Split is on and there is room for it (else the unified view stands in)."""
        return self.split and self.scrollable_content_region.width >= SPLIT_MIN_WIDTH

    def _rows(self) -> list[UnifiedRow] | list[SplitRow]:
        return self._split if self.showing_split else self._unified

    def _pinned(self, width: int) -> list[tuple[str, str]]:
        """Notes held at the top, outside the scrolling rows: (line, component class)."""
        notes: list[tuple[str, str]] = []
        if self.stale:
            notes.append((STALE_TEXT, "diff-view--stale-banner"))
        if self.split and not self.showing_split:
            notes.append((NARROW_TEXT, "diff-view--info"))
        if not self.parsed.hunks:
            notes.append((EMPTY_TEXT, "diff-view--info"))
        return [
            (f" {line}", component)
            for text, component in notes
            for line in textwrap.wrap(text, max(10, width - 2))
        ]

    def _code_widths(self, width: int) -> tuple[int, int]:
        """Cells for code: (unified or left side, right side)."""
        if self.showing_split:
            # A marker and a divider, then per side: number, space, sign, space, code.
            total = width - 2 - 2 * (self._digits + 3)
            left = max(1, total // 2)
            return left, max(1, total - left)
        # marker, number, space, number, space, sign, space
        unified = max(1, width - 2 * self._digits - 5)
        return unified, unified

    def _ensure_layout(self) -> None:
        """Where each row starts among the screen lines, long lines wrapped at this width."""
        width = self.scrollable_content_region.width
        key = (self.showing_split, width)
        if key == self._layout_key:
            return
        self._layout_key = key
        left, right = self._code_widths(width)
        starts = [0]
        for row in self._rows():
            starts.append(starts[-1] + row_height(row, left, right))
        self._starts = starts

    def _row_at(self, line: int) -> tuple[int, int] | None:
        """The row shown on screen line `line` of the rows, and which of its lines that is."""
        self._ensure_layout()
        if not 0 <= line < self._starts[-1]:
            return None
        index = bisect_right(self._starts, line) - 1
        return index, line - self._starts[index]

    def _relayout(self) -> None:
        self._strips.clear()
        self._layout_key = None
        self._ensure_layout()
        width = self.scrollable_content_region.width
        self.virtual_size = Size(width, self._starts[-1] + len(self._pinned(width)))
        self.refresh()

    def scroll_to_hunk(self, index: int, *, top: bool = False) -> None:
        """Bring a hunk into view: all of it if it fits, else from its header down."""
        spans = self._split_spans if self.showing_split else self._unified_spans
        region = self.scrollable_content_region
        visible = region.height - len(self._pinned(region.width))
        if not 0 <= index < len(spans) or visible <= 0:
            return
        self._ensure_layout()
        first, last = self._starts[spans[index][0]], self._starts[spans[index][1] + 1] - 1
        scroll_y = self.scroll_offset.y
        if top or first < scroll_y or last - first + 1 > visible:
            scroll_y = first
        elif last >= scroll_y + visible:
            scroll_y = last - visible + 1
        self.scroll_to(y=scroll_y, animate=False)

    # ---- rendering ----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.visual_style.rich_style
        pinned = self._pinned(width)
        if y < len(pinned):  # drawn over the rows
            text, component = pinned[y]
            style = self.get_visual_style(component).rich_style
            return Strip([Segment(text, style)]).crop_extend(0, width, style)
        located = self._row_at(self.scroll_offset.y + y - len(pinned))
        if located is None:
            return Strip.blank(width, base)
        index, part = located
        split = self.showing_split
        key = (index, split, width)
        strips = self._strips.get(key)
        if strips is None:
            row = self._rows()[index]
            if isinstance(row, SplitRow):
                lines = self._split_row(row, width)
            else:
                lines = self._unified_row(row, width)
            strips = [
                Strip([Segment(text, style.rich_style) for text, style in pieces])
                for pieces in lines
            ]
            self._strips[key] = strips
        if part >= len(strips):
            return Strip.blank(width, base)
        return strips[part].crop_extend(0, width, base)
