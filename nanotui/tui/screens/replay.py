"""Replay of a past session: its events again, in order, at a chosen pace, clearly labelled.

The log is indexed on a thread (as the timeline indexes it: a 100,000-event log in well
under a second); a worker then releases its lines at `speed` times the pace they were logged
(0: all at once; a gap is never longer than two seconds, whatever the pace) and only posts
them; the handler adds each to the timeline and, reading the record, to the conversation.
No model is called and nothing is run: the events are what the log says happened.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from nanotui.protocol.basics import plural
from nanotui.protocol.events import parse_event
from nanotui.protocol.replay_pace import replay_wait
from nanotui.tui.replay_chat import CHAT_TYPES, PASSING_TYPES, show_in_chat
from nanotui.tui.screens.timeline import open_event
from nanotui.tui.timeline_log import LogLine, LogReader, index_lines, read_record_at
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.event_list import EventList
from nanotui.tui.widgets.integrity_badge import IntegrityBadge, Verifier
from nanotui.tui.widgets.timeline_pane import TimelinePane

KEYS = "space pause · +/- speed · enter open · 0-7 kind · / search · q quit"
CHAT_LIMIT = 200
"""All at once, the conversation shows at most the last this many entries (the timeline
holds every event)."""
SPEEDS = (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 1000)


def timestamp(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


class Replayed(Message):
    """The next steps of the replay, due now."""

    def __init__(self, lines: list[LogLine], *, bulk: bool = False) -> None:
        super().__init__()
        self.lines = lines
        self.bulk = bulk


class Loaded(Message):
    def __init__(self, lines: list[LogLine] | None, error: str = "") -> None:
        super().__init__()
        self.lines = lines
        self.error = error


class ReplayScreen(Screen[None]):
    """A past session played again: the conversation on the left, the timeline on the right."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("space", "pause", "Pause or go on", id="replay.pause"),
        Binding("plus,equals_sign", "speed(1)", "Faster", id="replay.faster"),
        Binding("minus", "speed(-1)", "Slower", id="replay.slower"),
        Binding("q", "app.quit", "Quit the replay", id="replay.quit"),
    ]

    def __init__(self, path: Path, *, speed: float, session: str, verify: Verifier) -> None:
        super().__init__()
        self.path = path
        self.verify_log = verify
        self.speed = speed
        self.session = session
        self.total = 0
        self.done = 0
        self.finished = False
        self.paused = False
        self._going = asyncio.Event()
        self._going.set()

    def compose(self) -> ComposeResult:
        with Horizontal(id="replay-header"):
            yield Static("", id="replay-banner", markup=False)
            yield IntegrityBadge(self.verify_log, id="timeline-badge")
        with Horizontal(id="replay-body"):
            yield ChatView(id="chat")
            yield TimelinePane(reader=LogReader(self.path), follow=True)
        yield Static(KEYS, id="timeline-keys", markup=False)

    def on_mount(self) -> None:
        self._show_banner("reading the log…")
        self.query_one(EventList).focus()
        self.query_one(IntegrityBadge).verify(self.path)
        self._load()

    def _pace(self) -> str:
        return "all at once" if self.speed == 0 else f"{self.speed:g} times real time"

    def _show_banner(self, state: str = "") -> None:
        if not state:
            if self.finished:
                state = f"finished, {plural(self.total, 'record')}"
            else:
                mark = "paused" if self.paused else "playing"
                state = f"{mark} {self.done:,} of {plural(self.total, 'record')}, {self._pace()}"
        text = f"REPLAY of session {self.session} (no model is called) · {state}"
        self.query_one("#replay-banner", Static).update(text)

    @work(thread=True, exclusive=True, group="replay-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            self.post_message(Loaded(index_lines(self.path)))
        except OSError as exc:
            self.post_message(Loaded(None, f"{self.path} could not be read: {exc}"))

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        if message.lines is None:
            self._show_banner(message.error)
            return
        self.total = len(message.lines)
        self._show_banner()
        self._play(message.lines)

    @work(exclusive=True, group="replay", exit_on_error=False)
    async def _play(self, lines: list[LogLine]) -> None:
        """Release the lines at the chosen pace; only posts them."""
        previous: datetime | None = None
        due: list[LogLine] = []
        for line in lines:
            if self.speed == 0:
                due.append(line)
                continue
            when = timestamp(line.ts)
            wait = replay_wait(previous, when, self.speed)
            previous = when or previous
            if wait > 0.001 and due:
                self.post_message(Replayed(due))
                due = []
            if wait > 0.001:
                await asyncio.sleep(wait)
            await self._going.wait()
            due.append(line)
        if due:
            self.post_message(Replayed(due, bulk=self.speed == 0))
        self.post_message(Replayed([], bulk=True))

    @on(Replayed)
    async def replayed(self, message: Replayed) -> None:
        if not message.lines:
            self.finished = True
            self._show_banner()
            return
        self.done += len(message.lines)
        self.query_one(TimelinePane).add_rows([li.row for li in message.lines if li.row])
        chat = self.query_one(ChatView)
        shown = [line for line in message.lines if line.type in CHAT_TYPES]
        if message.bulk:
            shown = [line for line in shown if line.type not in PASSING_TYPES]
            if len(shown) > CHAT_LIMIT:
                left_out = len(shown) - CHAT_LIMIT
                shown = shown[left_out:]
                await chat.add_notice(
                    f"Left out here: the first {plural(left_out, 'entry', 'entries')}; "
                    "the timeline has them."
                )
        for line in shown:
            try:
                record = read_record_at(self.path, line.offset)
                event = parse_event({"type": record["type"], **record["payload"]})
            except (OSError, KeyError, TypeError, ValueError):
                continue
            await show_in_chat(chat, event)
        await chat.fold_earlier_turns()
        self._show_banner()

    def action_pause(self) -> None:
        if self.finished:
            return
        self.paused = not self.paused
        if self.paused:
            self._going.clear()
        else:
            self._going.set()
        self._show_banner()

    def action_speed(self, direction: int) -> None:
        if self.speed == 0 or self.finished:
            return
        faster = [s for s in SPEEDS if s > self.speed]
        slower = [s for s in SPEEDS if s < self.speed]
        if direction > 0 and faster:
            self.speed = faster[0]
        elif direction < 0 and slower:
            self.speed = slower[-1]
        self._show_banner()

    @on(EventList.Opened)
    def event_opened(self, event: EventList.Opened) -> None:
        open_event(self, event.row, self.path)
