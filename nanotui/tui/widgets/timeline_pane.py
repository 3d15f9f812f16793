"""The timeline's body: kind filter, text search, the event list and a count of what shows.

Filtering a large session reads every row and matches it on a thread (a worker that only
posts its result), so typing in the search box never stalls the screen.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from nanotui.protocol.basics import plural
from nanotui.tui.timeline_log import LogReader
from nanotui.tui.timeline_rows import (
    KIND_FILTERS,
    KindFilter,
    TimelineRow,
    TimelineRows,
    matching,
)
from nanotui.tui.widgets.event_list import EventList
from nanotui.tui.widgets.kind_filter_bar import KindFilterBar

SEARCH_PAUSE_S = 0.15
"""Typing pauses this long before the search runs (each run reads every row)."""


class SearchInput(Input):
    """The text filter; Enter or Esc go back to the list (the text stays)."""

    BINDINGS = [Binding("escape", "done", "Back to the events", show=False)]

    def action_done(self) -> None:
        self.screen.query_one(EventList).focus()


class Filtered(Message):
    """A filter's matches, found on a thread over the first `checked` rows."""

    def __init__(self, kind_filter: KindFilter, text: str, shown: list[int], checked: int) -> None:
        super().__init__()
        self.kind_filter = kind_filter
        self.text = text
        self.shown = shown
        self.checked = checked


class TimelinePane(Vertical):
    """A session's events as filterable rows; `add_rows` appends, `EventList.Opened` opens."""

    BINDINGS = [
        *(
            Binding(str(number), f"choose('{kind_filter.name}')", show=False)
            for number, kind_filter in enumerate(KIND_FILTERS)
        ),
        Binding("f", "cycle_filter", "Next kind filter", id="timeline.next_filter"),
        Binding("slash", "search", "Search the rows", id="timeline.search"),
    ]

    def __init__(
        self,
        model: TimelineRows | None = None,
        reader: LogReader | None = None,
        *,
        path: Path | None = None,
        follow: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.model = model or TimelineRows()
        self.reader = reader
        self.path = path or (reader.path if reader else None)
        self._follow = follow
        self._search_timer: Timer | None = None
        self.filtering = False

    def compose(self) -> ComposeResult:
        yield KindFilterBar(id="timeline-kinds")
        yield SearchInput(placeholder="/ search the rows", id="timeline-search")
        yield EventList(self.model, self.path, follow=self._follow, id="timeline-events")
        yield Static("", id="timeline-count", markup=False)

    def on_mount(self) -> None:
        self._show_count()

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    def add_rows(self, rows: Sequence[TimelineRow]) -> None:
        """Append rows (in log order); a running filter is applied to them too."""
        if not rows:
            return
        if self.model.filtering and any(row.summary is None for row in rows):
            self.model.rows.extend(rows)  # matched when the filter runs again
            self.refilter()
        else:
            self.model.extend(rows)
        self.event_list.rows_changed()
        self._show_count()

    def _show_count(self) -> None:
        model = self.model
        text = f"{len(model.shown):,} of {plural(len(model), 'event')}"
        if model.kind_filter.name != "all":
            text += f" · {model.kind_filter.label}"
        if model.text:
            text += f" · “{model.text}”"
        if self.filtering:
            text += " · filtering…"
        self.query_one("#timeline-count", Static).update(text)

    # ---- filters ------------------------------------------------------------------------

    def action_choose(self, name: str) -> None:
        self.query_one(KindFilterBar).action_choose(name)

    def action_cycle_filter(self) -> None:
        names = [kind_filter.name for kind_filter in KIND_FILTERS]
        current = self.query_one(KindFilterBar).chosen
        self.action_choose(names[(names.index(current) + 1) % len(names)])

    def action_search(self) -> None:
        self.query_one(SearchInput).focus()

    @on(KindFilterBar.Chosen)
    def kind_chosen(self, event: KindFilterBar.Chosen) -> None:
        event.stop()
        self.refilter()

    @on(Input.Changed, "#timeline-search")
    def search_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_PAUSE_S, self.refilter)

    @on(Input.Submitted, "#timeline-search")
    def search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.refilter()
        self.event_list.focus()

    def refilter(self) -> None:
        """Match the rows against the chosen kind and the search text, off the event loop."""
        kind_filter = next(
            f for f in KIND_FILTERS if f.name == self.query_one(KindFilterBar).chosen
        )
        text = self.query_one(SearchInput).value
        self.filtering = True
        self._show_count()
        self._match(kind_filter, text, len(self.model.rows))

    @work(thread=True, exclusive=True, group="timeline-filter", exit_on_error=False)
    def _match(self, kind_filter: KindFilter, text: str, count: int) -> None:
        rows = self.model.rows[:count]
        if self.reader is not None and (kind_filter.name != "all" or text.strip()):
            with contextlib.suppress(OSError):  # the log went away: match what was read
                self.reader.describe(rows)
        self.post_message(Filtered(kind_filter, text, matching(rows, kind_filter, text), count))

    @on(Filtered)
    def filtered(self, message: Filtered) -> None:
        message.stop()
        current = self.query_one(KindFilterBar).chosen, self.query_one(SearchInput).value
        if current != (message.kind_filter.name, message.text):
            return  # a newer filter is on its way
        rows = self.model.rows
        if self.reader is not None and any(r.summary is None for r in rows[message.checked :]):
            with contextlib.suppress(OSError):
                self.reader.describe(rows[message.checked :])
        near = self.event_list.current_index
        self.model.show(message.kind_filter, message.text, message.shown, message.checked)
        self.filtering = False
        self.event_list.rows_changed(near=near)
        self._show_count()
