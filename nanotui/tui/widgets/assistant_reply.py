"""One reply of the model, drawn as Markdown while its fragments stream in.

Fragments are gathered and parsed at most once per frame, however many arrive. A block that
later text can no longer change (a paragraph once the next block has begun, a code fence
once it is closed) is frozen: drawn once and kept (see `MarkdownLines`). Only the tail, the
block still growing, is parsed and drawn again. So the cost of a frame does not grow with the
length of the reply, and the reply, once finished, reads exactly like its whole text drawn
at once.
"""

from __future__ import annotations

import time

from textual.timer import Timer

from nanotui.tui.widgets.markdown_blocks import block_start, parse_blocks
from nanotui.tui.widgets.markdown_lines import MarkdownLines

# The tail is parsed and drawn at most this often (30 Hz), and more rarely when that takes
# long (a long code fence still open), so that streaming never starves the event loop.
MIN_FLUSH_INTERVAL_S = 1 / 30
FLUSH_COST_FACTOR = 3


class AssistantReply(MarkdownLines):
    """The model's text for one step; `append_fragment` streams, `finish` settles it."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._parts: list[str] = []  # every fragment as it came, for `text`
        self._text_cache: str | None = None
        # Parsing sees only "\n" newlines; a fragment ending in "\r" may be half of "\r\n".
        self._carriage_return = False
        self._pending: list[str] = []
        self._tail_source = ""
        self._flush_scheduled = False
        self._flush_timer: Timer | None = None
        self._next_flush = 0.0
        if text:
            # Given whole (a reply that was not streamed): one parse of the whole text.
            self._add(text)
            self._freeze_everything()

    @property
    def text(self) -> str:
        """The whole reply so far, as the model wrote it."""
        if self._text_cache is None:
            self._text_cache = "".join(self._parts)
            self._parts = [self._text_cache]
        return self._text_cache

    async def append_fragment(self, fragment: str) -> None:
        """Add a fragment; it is drawn with the others that arrive within the same frame."""
        if not fragment:
            return
        self.streaming = True
        self._add(fragment)
        if not self._flush_scheduled and self.is_mounted:
            self._schedule_flush()

    async def finish(self, *, interrupted: bool = False) -> None:
        """Draw what is pending and freeze it all; mark a reply that was cut off."""
        self._cancel_flush()
        self.streaming = False  # the finished reply is highlighted whole, now
        self._freeze_everything()
        self._blocks_changed()
        if interrupted:
            self.add_class("-interrupted")
            self.border_subtitle = "interrupted"

    def on_mount(self) -> None:
        if self._pending and not self._flush_scheduled:
            self._schedule_flush()

    def _add(self, fragment: str) -> None:
        self._parts.append(fragment)
        self._text_cache = None
        if self._carriage_return:
            fragment = "\r" + fragment
            self._carriage_return = False
        if fragment.endswith("\r"):
            fragment = fragment[:-1]
            self._carriage_return = True
        self._pending.append(fragment.replace("\r\n", "\n").replace("\r", "\n"))

    def _schedule_flush(self) -> None:
        self._flush_scheduled = True
        delay = self._next_flush - time.monotonic()
        if delay > 0:
            self._flush_timer = self.set_timer(delay, self._flush, name="reply-flush")
        else:
            # Still runs after the fragments already queued: they are drawn together.
            self.call_later(self._flush)

    def _cancel_flush(self) -> None:
        self._flush_scheduled = False
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None

    def _flush(self) -> None:
        """Freeze the blocks that are complete and parse the tail again."""
        if not self._flush_scheduled:
            return  # finish() came first and froze everything
        self._cancel_flush()
        started = time.monotonic()
        tail = self._tail_source + "".join(self._pending)
        self._pending.clear()
        # Only complete lines decide which blocks are final: a line still arriving may
        # change what it starts ("1" may become "1. item" and continue the list above it).
        cut = block_start(tail[: tail.rfind("\n") + 1])
        if cut:
            self._frozen.extend(parse_blocks(tail[:cut], self._env))
            tail = tail[cut:]
        self._tail_source = tail
        # A copy of the references: a half-streamed definition must not stick.
        self._tail = parse_blocks(tail, {"references": dict(self._env["references"])})
        self._blocks_changed()  # draws the tail
        cost = time.monotonic() - started
        self._next_flush = started + max(MIN_FLUSH_INTERVAL_S, FLUSH_COST_FACTOR * cost)

    def _freeze_everything(self) -> None:
        if self._carriage_return:
            self._carriage_return = False
            self._pending.append("\n")
        tail = self._tail_source + "".join(self._pending)
        self._pending.clear()
        if tail:
            self._frozen.extend(parse_blocks(tail, self._env))
        self._tail_source = ""
        self._tail = []
