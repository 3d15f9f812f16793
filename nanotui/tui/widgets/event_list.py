"""The timeline's list of events: one line per row, drawn only where it is on screen.

A Line API `ScrollView`: its height is the number of rows shown, and `render_line` draws
the few rows in view, so 100,000 events cost no more to show than 40. A row whose summary
has not been read yet is read when it is first drawn.
"""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nanotui.protocol.event_summary import STYLES
from nanotui.tui.timeline_log import read_record_at
from nanotui.tui.timeline_rows import KIND_WIDTH, TimelineRow, TimelineRows, describe_row

_KIND_STYLES = {kind: Style.parse(style) if style else Style() for kind, style in STYLES.items()}


class EventList(ScrollView, can_focus=True):
    """The rows of a `TimelineRows` that its filters let through, with a cursor.

    While the cursor is on the last row the list follows the end: new rows scroll in.
    """

    COMPONENT_CLASSES = {"event-list--cursor", "event-list--time"}

    BINDINGS = [
        Binding("up,k", "move(-1)", "Previous event", show=False),
        Binding("down,j", "move(1)", "Next event", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First event", show=False),
        Binding("end", "last", "Last event", show=False),
        Binding("enter", "open", "Open the event", id="timeline.open"),
    ]

    cursor: reactive[int] = reactive(-1, always_update=True, init=False)
    """Index into the shown rows; -1 while there are none."""

    class Opened(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, event_list: EventList, row: TimelineRow) -> None:
            super().__init__()
            self.event_list = event_list
            self.row = row

        @property
        def control(self) -> EventList:
            return self.event_list

    def __init__(
        self,
        model: TimelineRows,
        path: Path | None = None,
        *,
        follow: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.model = model
        self.path = path
        self.follow = follow
        """Keep the cursor on the last row as rows are added (moving to the last row turns
        it on, moving off it turns it off)."""

    # ---- rows in and out ----------------------------------------------------------------

    def rows_changed(self, *, near: int | None = None) -> None:
        """The model's shown rows changed: resize, follow the end or keep the cursor's place.

        `near` (after a filter) is the row the cursor was on, by its index among all rows:
        the cursor goes to it, or to the first shown row after it.
        """
        shown = self.model.shown
        count = len(shown)
        self.virtual_size = Size(0, count)
        if count == 0:
            self.cursor = -1
        elif self.follow:
            self.cursor = count - 1
        elif near is not None:
            self.cursor = min(bisect_left(shown, near), count - 1)
        else:
            self.cursor = max(0, min(self.cursor, count - 1))
        self.refresh()

    @property
    def current_index(self) -> int | None:
        """The cursor's row by its index among all rows (not only those shown)."""
        return self.model.shown[self.cursor] if 0 <= self.cursor < len(self.model.shown) else None

    @property
    def current(self) -> TimelineRow | None:
        if 0 <= self.cursor < len(self.model.shown):
            return self.model.shown_row(self.cursor)
        return None

    def watch_cursor(self, old: int, new: int) -> None:
        if new >= 0:
            self._scroll_cursor_into_view()
        self.refresh_line(old)
        self.refresh_line(new)

    def _scroll_cursor_into_view(self) -> None:
        height = self.scrollable_content_region.height or self.size.height or 1
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, force=True)

    def on_resize(self) -> None:
        if self.cursor >= 0:
            self._scroll_cursor_into_view()

    # ---- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.size.width
        base = self.rich_style
        if not 0 <= index < len(self.model.shown):
            return Strip.blank(width, base)
        row = self.model.shown_row(index)
        if row.summary is None:
            self._describe(row)
        if index == self.cursor:
            base += self.get_component_rich_style("event-list--cursor")
        time_style = base + self.get_component_rich_style("event-list--time", partial=True)
        segments = [
            Segment(f"{row.time:<8} ", time_style),
            Segment(f"{row.kind:<{KIND_WIDTH}} ", base + _KIND_STYLES.get(row.kind, Style())),
            Segment(row.summary or "", base),
        ]
        return Strip(segments).crop_extend(0, width, base)

    def _describe(self, row: TimelineRow) -> None:
        if self.path is None or row.offset < 0:
            row.summary = ""
            return
        try:
            describe_row(row, read_record_at(self.path, row.offset))
        except (OSError, ValueError):
            row.summary = "(this line can no longer be read)"

    # ---- keys and mouse -----------------------------------------------------------------

    def go_to(self, index: int) -> None:
        """Put the cursor on shown row `index` (clamped); on the last row, follow the end."""
        count = len(self.model.shown)
        if count:
            self.follow = index >= count - 1
            self.cursor = max(0, min(count - 1, index))

    def action_move(self, step: int) -> None:
        self.go_to(max(self.cursor, 0) + step)

    def action_page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.action_move(direction * height)

    def action_first(self) -> None:
        self.go_to(0)

    def action_last(self) -> None:
        self.go_to(len(self.model.shown) - 1)

    def action_open(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Opened(self, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = round(self.scroll_y) + offset.y
        if 0 <= index < len(self.model.shown):
            self.go_to(index)
            if event.chain >= 2:
                self.action_open()
