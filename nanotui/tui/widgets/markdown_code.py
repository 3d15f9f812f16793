"""Fenced code drawn as lines: highlighted a chunk at a time, so a long fence streams cheaply.

Highlighting a fence of a few hundred lines takes longer than a frame. A streamed fence grows
at its end only, so its lines are highlighted in chunks, each with the chunk before it as
context for the lexer (a string or comment that began there still reads as one); a chunk
whose text and context have not changed is taken from the cache instead of highlighted again.
The whole text drawn at once goes through the same chunks, so both read the same.

When code arrives faster than it can be highlighted, a `HighlightBudget` limits the work per
drawing: chunks past it are drawn plain for now, and the caller draws again later. The same
holds for a language seen for the first time: Pygments compiles a lexer's rules when it is
first made (Python's take about 20 ms, CSS's 27), which froze a streaming reply at its first
fence; the lexer is made on a thread instead, and the code is drawn plain until it is ready.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass

from textual.content import Content

FENCE = "markdown--fence"  # component class of the panel
FENCE_PADDING = 1  # blank cells left and right of the code, and a blank line above and below
CHUNK_LINES = 16

# (language, width, context, chunk) -> the chunk's drawn lines. The caller keeps one for the
# fence it is streaming; nothing else needs it.
CodeCache = dict[tuple[str, int, str, str], list[Content]]


@dataclass
class HighlightBudget:
    """Time for highlighting in one drawing; the first chunk is always granted.

    With `lexers_later` (a reply still streaming), a chunk whose lexer is not made yet is
    refused too, and the lexer is made on a thread meanwhile.
    """

    deadline: float
    lexers_later: bool = False
    granted: int = 0
    refused: int = 0

    def grant(self, language: str) -> bool:
        """Whether a chunk in `language` may be highlighted now."""
        waiting = self.lexers_later and not lexer_ready(language)
        if waiting or (self.granted and time.monotonic() > self.deadline):
            self.refused += 1
            return False
        self.granted += 1
        return True


_lexers_ready: set[str] = set()
_lexers_asked: set[str] = set()
_lexers_wanted: queue.SimpleQueue[str] = queue.SimpleQueue()
_lexer_maker: list[threading.Thread] = []
_making = threading.Lock()
"""One lexer is made at a time: Pygments builds a lexer class's rules in place, and two
threads building the same class (`py` and `python` are one) could see each other's half."""


def lexer_ready(language: str) -> bool:
    """Whether `language`'s lexer has been made; if not, have it made on a thread.

    Pygments keeps a lexer's compiled rules on its class, so once made there, making it again
    (as `textual.highlight` does for every chunk) is quick. One thread makes them all, in the
    order asked, however many languages a reply names.
    """
    if language in _lexers_ready:
        return True
    if language not in _lexers_asked:
        _lexers_asked.add(language)
        _lexers_wanted.put(language)
        if not _lexer_maker:
            maker = threading.Thread(target=_make_lexers, name="make-lexers", daemon=True)
            _lexer_maker.append(maker)
            maker.start()
    return False


def _make_lexers() -> None:
    while True:
        language = _lexers_wanted.get()
        with contextlib.suppress(Exception):  # a broken lexer is ready (plain); go on
            _make_lexer(language)


def _make_lexer(language: str) -> None:
    """On the lexer thread."""
    make_lexer_now(language)


def make_lexer_now(language: str) -> None:
    """Make `language`'s lexer here (waiting for the thread if it is making one)."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    with _making:
        try:
            if language not in _lexers_ready:
                with contextlib.suppress(ClassNotFound):  # `highlight` draws it as text
                    get_lexer_by_name(language)
        finally:
            _lexers_ready.add(language)  # even if a broken lexer raised: drawn as it can be


def render_code(
    code: str,
    language: str,
    width: int,
    cache: CodeCache | None = None,
    budget: HighlightBudget | None = None,
) -> list[Content]:
    """Highlighted code on a panel, `width` cells wide; long lines fold rather than vanish.

    Chunks the `budget` has no time for are drawn plain for now (it counts them `refused`).
    """
    # No language: plain text. Guessing runs every lexer, and the guess could change as the
    # code streams in.
    language = language or "text"
    style = f".{FENCE}"
    blank = Content.blank(width).stylize_before(style)
    code_lines = code.rstrip("\n").split("\n")
    lines = [blank]
    for start in range(0, len(code_lines), CHUNK_LINES):
        context = "\n".join(code_lines[max(start - CHUNK_LINES, 0) : start])
        chunk = "\n".join(code_lines[start : start + CHUNK_LINES])
        key = (language, width, context, chunk)
        drawn = cache.get(key) if cache is not None else None
        if drawn is None and budget is not None and not budget.grant(language):
            # Plain for now; kept under its own key so the next drawing reuses it too.
            plain_key = ("", width, "", chunk)
            drawn = cache.get(plain_key) if cache is not None else None
            if drawn is None:
                drawn = _draw_chunk("", chunk, "", width)
            if cache is not None:
                cache[plain_key] = drawn
        elif drawn is None:
            drawn = _draw_chunk(context, chunk, language, width)
            if cache is not None:
                cache[key] = drawn
        lines.extend(drawn)
    lines.append(blank)
    return lines


def _draw_chunk(context: str, chunk: str, language: str, width: int) -> list[Content]:
    """The chunk's lines on the panel; `language` "" draws it plain for now, without Pygments
    (whose lexer for plain text may itself not be made yet)."""
    # Counted as `highlight` splits lines, so the context is cut off exactly.
    skip = len(context.splitlines())
    text = f"{context}\n{chunk}" if context else chunk
    if language:
        # Imported here: Pygments is not needed for the first frame of the app.
        from textual.highlight import highlight

        if language not in _lexers_ready:
            make_lexer_now(language)  # never beside the lexer thread, on the same class
        content = highlight(text, language=language)
    else:
        content = Content(text).stylize("$text")  # as Pygments draws plain text
    highlighted = content.split("\n", allow_blank=True)[skip:]
    inner = max(width - 2 * FENCE_PADDING, 1)
    pad = " " * FENCE_PADDING
    style = f".{FENCE}"
    lines: list[Content] = []
    for line in highlighted:
        line = line.expand_tabs(4)
        for part in line.fold(inner) if line.cell_length > inner else [line]:
            padded = Content.assemble(pad, part.truncate(inner, pad=True), pad)
            lines.append(padded.truncate(width, pad=True).stylize_before(style))
    return lines
