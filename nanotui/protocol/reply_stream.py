"""A streamed reply as a front end passes it on (an editor, `run --json`): redacted over whole
words, not piece by piece.

A model streams a few characters at a time, so a token split across two pieces is in
neither and redacting each piece alone lets it through. Text is held back to the last
whitespace and what is released is the redaction of the current line so far; a private
key's block is held whole, as its lines mean nothing alone. A secret that contains spaces
(a quoted password) can still be cut in two: the session log, not the stream, is the record.
"""

from __future__ import annotations

from collections.abc import Callable

WHITESPACE = (" ", "\t", "\n")
EAGER_CHARS = 2048
"""Up to this much unsettled text, every new word is released as it comes. Beyond it (a long
line: minified JSON, a wide table) each release redacts the whole line again, so words wait
until the line has grown by a tenth: a few dozen redactions for any length, not one a piece."""


class ReplyStream:
    """One front end's view of streamed replies, each piece given to `add`, each end to `end`."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact
        self._held = ""
        """The raw text of the lines not yet settled: the current one, or an open key block."""
        self._sent = ""
        """What the editor was sent of `_held`, redacted."""
        self._released = 0
        """How much of `_held` the last release of words covered."""

    def add(self, piece: str) -> str:
        """The text the editor may be sent now that `piece` came ('' when none)."""
        self._held += piece
        lines = self._held.rfind("\n") + 1
        said = self._release(self._held[:lines]) if lines else ""
        words = max(self._held.rfind(space) for space in WHITESPACE) + 1
        if words <= self._released or (words > EAGER_CHARS and words * 10 < self._released * 11):
            return said
        self._released = words
        return said + self._release(self._held[:words])

    def end(self) -> str:
        """What is left of the reply, now that it has ended ('' when nothing)."""
        rest = self._release(self._held)
        self._held = self._sent = ""
        self._released = 0
        return rest

    def _release(self, ready: str) -> str:
        shown = self._redact(ready) if ready else ""
        # What was sent cannot be taken back: only what the redaction adds to it goes out.
        new = shown[len(self._sent) :] if len(shown) > len(self._sent) else ""
        self._sent = max(shown, self._sent, key=len)
        if ready.endswith("\n") and ready.count("PRIVATE KEY") % 2 == 0:
            # Whole lines, no key block open: later text cannot change how they redact.
            self._held, self._sent = self._held[len(ready) :], ""
            self._released = 0
        return new
