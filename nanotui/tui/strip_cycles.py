"""Lines Textual draws are freed as soon as they are replaced, not by the cyclic collector.

Textual's compositor divides each line a widget draws at the edges of the widgets over it
(`Strip.divide`). A line nothing covers needs no cut: `divide` then answers `[self]` and
keeps that answer in the strip's own cache, so the strip refers to itself and, with its
segments and its seven caches, outlives its last use until the cyclic garbage collector
finds it. A 4,000-token reply left 58,000 such objects behind, and the collections that
free them are the app's longest pauses (`collector.py`); answered without keeping it, 3,200.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.strip import Strip

_divide = Strip.divide


def _divide_unless_whole(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    """`Strip.divide`; a strip cut only at its end is its own answer, and not cached."""
    kept = [cut for cut in cuts if cut <= self.cell_length]
    if kept == [self.cell_length]:
        return [self]
    return _divide(self, kept)


def free_undivided_lines() -> None:
    """Have `Strip.divide` answer an uncut line without a reference to itself (once)."""
    Strip.divide = _divide_unless_whole  # type: ignore[method-assign]
