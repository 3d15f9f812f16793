"""Lines Textual draws no longer refer to themselves (`nanotui/tui/strip_cycles.py`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

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


def parts(strips: Iterator[Strip] | list[Strip]) -> list[tuple[str, int]]:
    return [(strip.text, strip.cell_length) for strip in strips]


@pytest.mark.parametrize("cuts", [[], [10], [10, 30], "whole", "past the end", [0, 5]])
def test_a_line_is_divided_as_textual_divides_it(installed: None, cuts: object) -> None:
    strip = line(1)
    length = strip.cell_length
    wanted = {"whole": [length], "past the end": [length, length + 20]}.get(str(cuts), cuts)
    assert isinstance(wanted, list)
    assert parts(Strip.divide(strip, wanted)) == parts(strip_cycles._divide(line(1), wanted))


def test_a_line_divided_whole_is_freed_without_the_cyclic_collector(installed: None) -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # nothing collects meanwhile: what is left is what only a collection frees
    try:
        gc.collect()
        for n in range(200):
            strip = line(n)
            [same] = strip.divide([strip.cell_length])
            assert same is strip
        del strip, same
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
