"""The timeline's body: kind filter, text search, the event list and a count of what shows.

Filtering runs on a thread (a worker that only posts what it found), so typing in the search
box never stalls the screen. A kind is matched from the index alone; a search of a large log
posts its matches as it goes through the log, so the first ones show at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from nanotui.protocol.basics import plural
from nanotui.tui.timeline_log import LogReader
from nanotui.tui.timeline_rows import KIND_FILTERS, KindFilter, TimelineRow, TimelineRows
from nanotui.tui.timeline_search import find_rows
from nanotui.tui.widgets.event_list import EventList
from nanotui.tui.widgets.kind_filter_bar import KindFilterBar

SEARCH_PAUSE_S = 0.15
"""Typing pauses this long before the search runs (each run goes through the whole log)."""
PARTIAL_S = 0.1
"""A filter still going through a large log posts what it has found at most this often."""


class SearchInput(Input):
    """The text filter; Enter or Esc go back to the list (the text stays)."""

    BINDINGS = [Binding("escape", "done", "Back to the events", show=False)]

    def action_done(self) -> None:
        self.screen.query_one(EventList).focus()


class Filtered(Message):
    """The matches of filter run `run`, found on a thread over the first `checked` rows (the
    first of them only, in order, until `done`)."""

    def __init__(
        self,
        run: int,
        kind_filter: KindFilter,
        text: str,
        shown: list[int],
        checked: int,
        done: bool,
    ) -> None:
        super().__init__()
        self.run = run
        self.kind_filter = kind_filter
        self.text = text
        self.shown = shown
        self.checked = checked
        self.done = done


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
        self._near: int | None = None
        self._run = 0
        """The latest filter run: the messages of older ones are dropped."""
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
        if self.model.text and any(row.summary is None for row in rows):
            self.model.rows.extend(rows)  # searched when the filter runs again
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
        if not self.filtering:
            self._near = self.event_list.current_index
        self.filtering = True
        self._run += 1
        self._show_count()
        self._match(self._run, kind_filter, text, len(self.model.rows))

    @work(thread=True, exclusive=True, group="timeline-filter", exit_on_error=False)
    def _match(self, run: int, kind_filter: KindFilter, text: str, count: int) -> None:
        worker = get_current_worker()
        rows = self.model.rows[:count]
        shown: list[int] = []
        posted = 0.0
        try:
            for found in find_rows(rows, kind_filter, text, self.path):
                if worker.is_cancelled:
                    return  # a newer filter took over
                shown.extend(found)
                # A kind alone is matched at once: only a search has first matches to show.
                if text.strip() and found and time.monotonic() - posted > PARTIAL_S:
                    posted = time.monotonic()
                    self.post_message(Filtered(run, kind_filter, text, list(shown), count, False))
        except OSError:  # the log went away: keep what was found
            pass
        self.post_message(Filtered(run, kind_filter, text, shown, count, True))

    @on(Filtered)
    def filtered(self, message: Filtered) -> None:
        message.stop()
        current = self.query_one(KindFilterBar).chosen, self.query_one(SearchInput).value
        if message.run != self._run or current != (message.kind_filter.name, message.text):
            return  # a newer filter is on its way
        if message.done:
            self.model.show(message.kind_filter, message.text, message.shown, message.checked)
            self.filtering = False
        else:
            self.model.show_first(message.kind_filter, message.text, message.shown)
        # The cursor goes to the row it was on (or the next one shown) once that is found.
        near, shown = self._near, self.model.shown
        if near is not None and ((shown and shown[-1] >= near) or message.done):
            self._near = None
        self.event_list.rows_changed(near=near)
        self._show_count()
