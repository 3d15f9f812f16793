"""The timeline, full screen: every event of a session from its log, filterable, verified.

The rows come from the session log itself (the record of what happened, not the screen's
memory of it): read on a thread when the screen opens, then followed while the session
goes on. The integrity badge is `nanotui audit verify` on the same file, also on a thread.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from nanotui.tui.screens.event_detail import EventDetailScreen
from nanotui.tui.timeline_log import LogReader, record_of
from nanotui.tui.timeline_rows import TimelineRow
from nanotui.tui.widgets.event_list import EventList
from nanotui.tui.widgets.integrity_badge import IntegrityBadge, Verifier
from nanotui.tui.widgets.timeline_pane import TimelinePane

KEYS = "↑↓ move · enter open · 0-7 kind · / search · v verify · esc back"


class RowsRead(Message):
    """Rows of lines read from the log on a thread; `first` ends the screen's first read."""

    def __init__(self, rows: list[TimelineRow], first: bool, error: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.first = first
        self.error = error


def open_event(screen: Screen[object], row: TimelineRow, path: Path | None) -> None:
    """Show `row`'s whole record over `screen`, or say in one sentence why it cannot be."""
    try:
        record = record_of(row, path)
    except (OSError, ValueError) as exc:
        screen.notify(
            f"Event {row.seq} could not be read from the log ({exc}).",
            severity="error",
            markup=False,  # the error may quote the log's own text
        )
        return
    screen.app.push_screen(EventDetailScreen(record))


class TimelineScreen(Screen[None]):
    """Every event of one session's log; Esc goes back to where it was opened."""

    BINDINGS = [
        Binding("escape,ctrl+t", "close", "Back", id="timeline.close"),
        Binding("v", "verify", "Verify the log again", id="timeline.verify"),
    ]

    POLL_S = 0.5
    """How often a live session's log is checked for new lines."""
    REVERIFY_S = 5.0
    """A live log that grew is verified again at most this often."""

    def __init__(
        self,
        path: Path | None,
        *,
        title: str,
        verify: Verifier,
        live: bool = False,
        follow: bool = True,
    ) -> None:
        super().__init__()
        self.path = path
        self.verify_log = verify
        self.title_text = title
        self.live = live
        self.reader = LogReader(path) if path is not None else None
        self._follow = follow
        self._verified_at = 0.0
        self._reverify: Timer | None = None
        self.loaded = False
        """The first read is in (for tests and the benchmark)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="timeline-header"):
            yield Static(self.title_text, id="timeline-title", markup=False)
            yield IntegrityBadge(self.verify_log, id="timeline-badge")
        yield TimelinePane(reader=self.reader, path=self.path, follow=self._follow)
        yield Static(KEYS, id="timeline-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(EventList).focus()
        badge = self.query_one(IntegrityBadge)
        if self.path is None or self.reader is None:
            badge.show_unchecked("this session is not logged")
            self.loaded = True
            return
        self._read(first=True)
        if self.live:
            self.set_interval(self.POLL_S, self._poll)

    @work(thread=True, exclusive=True, group="timeline-read", exit_on_error=False)
    def _read(self, first: bool = False) -> None:
        assert self.reader is not None
        # The first read indexes the lines only, in batches, so that a large log shows its
        # first rows at once; a row's summary is read when it is drawn or searched.
        try:
            for batch in self.reader.read_batches(index_only=first):
                self.post_message(RowsRead(batch, first=False))
        except OSError as exc:
            self.post_message(RowsRead([], first=first, error=str(exc)))
            return
        if first:
            self.post_message(RowsRead([], first=True))

    @on(RowsRead)
    def rows_read(self, message: RowsRead) -> None:
        if message.error:
            self.notify(
                f"The session log could not be read: {message.error}.",
                severity="error",
                markup=False,  # the error may quote a path or the log's own text
            )
        self.query_one(TimelinePane).add_rows(message.rows)
        if message.first:
            self.loaded = True
            # Verifying reads the whole log: it waits until the rows are on the screen.
            self.call_after_refresh(self.action_verify)
        elif message.rows and self.live and self.loaded and self._reverify is None:
            # The badge should cover the new lines too, but a busy session is not verified
            # more often than every REVERIFY_S.
            wait = max(0.05, self._verified_at + self.REVERIFY_S - time.monotonic())
            self._reverify = self.set_timer(wait, self.action_verify)

    def _poll(self) -> None:
        busy = any(w.group == "timeline-read" and w.is_running for w in self.workers)
        if self.reader is not None and not busy and self.reader.has_more():
            self._read()

    def action_verify(self) -> None:
        if self._reverify is not None:
            self._reverify.stop()
            self._reverify = None
        if self.path is not None:
            self._verified_at = time.monotonic()
            self.query_one(IntegrityBadge).verify(self.path)

    @on(EventList.Opened)
    def event_opened(self, event: EventList.Opened) -> None:
        open_event(self, event.row, self.path)

    def action_close(self) -> None:
        self.dismiss(None)
