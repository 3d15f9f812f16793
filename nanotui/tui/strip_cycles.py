"""Lines Textual draws are no longer their own reference cycle through `Strip.divide`.

Textual's compositor divides each line a widget draws at the edges of the widgets over it
(`Strip.divide`). A line nothing covers needs no cut: `divide` then answers `[self]` and
keeps that answer in the strip's own cache, so the strip refers to itself and, with its
segments and its seven caches, outlives its last use until the cyclic garbage collector
finds it. After a 4,000-token reply the collector found 24,000 to 58,000 objects, most of
them such lines, and its collections are the app's longest pauses (`collector.py`); with
this, 3,200 to 5,500, none of them a line's own cycle. (A `RichLog` row exactly as wide as
its view still caches itself in `crop_extend`; the timeline's rows are few and kept.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.strip import Strip


def _divide_unless_whole(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    """`Strip.divide`; a strip cut only at its end is its own answer, and not cached."""
    kept = [cut for cut in cuts if cut <= self.cell_length]
    if kept == [self.cell_length]:
        return [self]
    return _textual_divide(self, kept)


# Textual's own, even when this module is loaded again after installing the wrapper.
_textual_divide = getattr(Strip.divide, "__wrapped__", Strip.divide)
_divide_unless_whole.__wrapped__ = _textual_divide  # type: ignore[attr-defined]


def free_undivided_lines() -> None:
    """Have `Strip.divide` answer an uncut line without a reference to itself; calling it
    again changes nothing."""
    Strip.divide = _divide_unless_whole  # type: ignore[method-assign]
