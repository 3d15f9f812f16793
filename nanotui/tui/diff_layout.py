"""A parsed diff laid out as unified or side-by-side rows, and how tall each row wraps.

Pure Python: the diff widget renders these rows; nothing here knows about the terminal. The
diff itself is read by `protocol.diff_parse`; row `hunk` numbers are its hunk indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from itertools import zip_longest

from rich.cells import get_character_cell_size

from nanotui.protocol.basics import visible_controls
from nanotui.protocol.diff_parse import DiffLine, Hunk, LineKind, ParsedDiff


class RowKind(Enum):
    """What a row on screen shows."""

    HUNK_HEADER = "header"
    LINE = "line"
    NOTE = "note"
    """The "No newline at end of file" marker under the line it is about."""


@dataclass(frozen=True)
class UnifiedRow:
    """A row of the unified view: a hunk header, a line, or a no-newline note."""

    kind: RowKind
    hunk: int
    line: DiffLine | None = None


@dataclass(frozen=True)
class SplitRow:
    """A row of the side-by-side view: the old file on the left, the new on the right.

    A line row with one side None shows a blank there; a note row carries the line(s)
    that lack a final newline, on their side.
    """

    kind: RowKind
    hunk: int
    left: DiffLine | None = None
    right: DiffLine | None = None


def unified_rows(parsed: ParsedDiff) -> list[UnifiedRow]:
    """One row per hunk header, diff line, and no-newline note, in diff order."""
    rows: list[UnifiedRow] = []
    for hunk in parsed.hunks:
        rows.append(UnifiedRow(RowKind.HUNK_HEADER, hunk.index))
        for line in hunk.lines:
            rows.append(UnifiedRow(RowKind.LINE, hunk.index, line))
            if line.no_newline:
                rows.append(UnifiedRow(RowKind.NOTE, hunk.index, line))
    return rows


def split_rows(parsed: ParsedDiff) -> list[SplitRow]:
    """Side-by-side rows: context on both sides; in each run of changes, the removed lines
    on the left and the added lines on the right, paired in order, blanks where one side ends.
    """
    rows: list[SplitRow] = []
    for hunk in parsed.hunks:
        rows.append(SplitRow(RowKind.HUNK_HEADER, hunk.index))
        removed: list[DiffLine] = []
        added: list[DiffLine] = []
        for line in hunk.lines:
            if line.kind is LineKind.CONTEXT:
                rows += _paired(hunk.index, removed, added)
                removed, added = [], []
                rows.append(SplitRow(RowKind.LINE, hunk.index, line, line))
                if line.no_newline:
                    rows.append(SplitRow(RowKind.NOTE, hunk.index, line, line))
            elif line.kind is LineKind.REMOVED:
                removed.append(line)
            else:
                added.append(line)
        rows += _paired(hunk.index, removed, added)
    return rows


def _paired(hunk: int, removed: list[DiffLine], added: list[DiffLine]) -> list[SplitRow]:
    rows: list[SplitRow] = []
    for left, right in zip_longest(removed, added):
        rows.append(SplitRow(RowKind.LINE, hunk, left, right))
        left_note = left if left is not None and left.no_newline else None
        right_note = right if right is not None and right.no_newline else None
        if left_note or right_note:
            rows.append(SplitRow(RowKind.NOTE, hunk, left_note, right_note))
    return rows


def hunk_row_spans(rows: list[UnifiedRow] | list[SplitRow]) -> list[tuple[int, int]]:
    """The first and last row of each hunk, by hunk index."""
    spans: list[tuple[int, int]] = []
    for index, row in enumerate(rows):
        if row.kind is RowKind.HUNK_HEADER:
            spans.append((index, index))
        else:
            spans[-1] = (spans[-1][0], index)
    return spans


def side_texts(hunk: Hunk) -> tuple[list[DiffLine], list[DiffLine]]:
    """The hunk's lines as the old file had them and as the new file will have them."""
    old = [line for line in hunk.lines if line.kind is not LineKind.ADDED]
    new = [line for line in hunk.lines if line.kind is not LineKind.REMOVED]
    return old, new


def printable(text: str, tab_size: int = 4) -> str:
    """The line as it should appear: tabs expanded, control characters made visible (a model
    wrote this diff: an escape sequence must show as what it is, not act on the terminal)."""
    return visible_controls(text, keep="\t").expandtabs(tab_size)


def row_height(row: UnifiedRow | SplitRow, code_width: int, right_width: int = 0) -> int:
    """Screen lines a row takes when long lines wrap: `code_width` cells for the code of a
    unified row (or a split row's left side), `right_width` for a split row's right side."""
    if row.kind is not RowKind.LINE:
        return 1
    if isinstance(row, UnifiedRow):
        assert row.line is not None
        return _line_height(row.line, code_width)
    left = _line_height(row.left, code_width) if row.left is not None else 1
    right = _line_height(row.right, right_width) if row.right is not None else 1
    return max(left, right)


def _line_height(line: DiffLine, width: int) -> int:
    text = printable(line.text)
    if len(text) <= width and text.isascii():  # the common case, without measuring cells
        return 1
    return len(cell_breaks(text, width)) + 1


def cell_breaks(text: str, width: int) -> list[int]:
    """Where to cut `text` (character offsets) so that no piece is wider than `width` cells.

    A wide character (CJK, emoji) that would straddle the edge starts the next piece.
    """
    width = max(1, width)
    breaks: list[int] = []
    used = 0
    for offset, character in enumerate(text):
        cells = get_character_cell_size(character)
        if used + cells > width and used:
            breaks.append(offset)
            used = 0
        used += cells
    return breaks
