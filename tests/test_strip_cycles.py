"""Lines Textual draws no longer refer to themselves (`nanotui/tui/strip_cycles.py`)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from nanotui.tui import strip_cycles


@pytest.fixture
def installed() -> Iterator[None]:
    original = Strip.divide
    strip_cycles.free_undivided_lines()
    try:
        yield
    finally:
        Strip.divide = original  # type: ignore[method-assign]


def line(n: int) -> Strip:
    bold = Style(bold=True)
    return Strip([Segment(f"line {n} ", bold), Segment("of a reply, " * 5), Segment("end")])


LENGTH = line(1).cell_length


def drawn(strips: Iterable[Strip]) -> list[tuple[list[Segment], int]]:
    """What each strip draws: its segments, styles included, and its width."""
    return [(list(strip), strip.cell_length) for strip in strips]


@pytest.mark.parametrize(
    "cuts",
    [
        [],
        [10],
        [10, 30],
        [LENGTH],
        [LENGTH, LENGTH + 20],
        [LENGTH, LENGTH],
        [0, 5],
        [10, 10, LENGTH],
    ],
    ids=repr,  # sorted and not negative, as Textual's compositor cuts (rich asserts it)
)
def test_a_line_is_divided_as_textual_divides_it(installed: None, cuts: list[int]) -> None:
    ours = Strip.divide(line(1), iter(cuts))  # an iterator: read once, as Textual reads it
    assert drawn(ours) == drawn(strip_cycles._textual_divide(line(1), iter(cuts)))


def test_an_empty_line_is_divided_as_textual_divides_it(installed: None) -> None:
    empty = Strip([], 0)
    assert drawn(Strip.divide(empty, [0])) == drawn(strip_cycles._textual_divide(empty, [0]))


def test_installing_twice_or_loading_again_keeps_textuals_own_divide(installed: None) -> None:
    import importlib

    strip_cycles.free_undivided_lines()
    reloaded = importlib.reload(strip_cycles)
    reloaded.free_undivided_lines()
    assert drawn(Strip.divide(line(1), [10])) == drawn(reloaded._textual_divide(line(1), [10]))


def test_a_line_divided_whole_is_freed_without_the_cyclic_collector(installed: None) -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # nothing collects meanwhile: what is left is what only a collection frees
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the next collection finds stays in gc.garbage
    try:
        for n in range(200):
            strip = line(n)
            [same] = strip.divide([strip.cell_length])
            assert same is strip
        del strip, same
        gc.collect()
        assert not [found for found in gc.garbage if isinstance(found, Strip)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
