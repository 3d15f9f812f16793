"""How one row of a diff is painted: line numbers, +/- signs, wrapped and coloured code,
hunk headers with their check boxes, and the dimming of skipped or stale hunks.

`DiffView` draws with these (it inherits them); they read the view's state (`current_hunk`,
the chosen hunks, `stale`) and its component classes, and return pieces of text with styles,
one list per screen row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.style import Style

from nanotui.protocol.diff_parse import NO_NEWLINE_NOTE, DiffLine, LineKind
from nanotui.tui.diff_layout import RowKind, SplitRow, UnifiedRow, cell_breaks, printable

if TYPE_CHECKING:
    from nanotui.tui.widgets.diff_view import DiffView

CURRENT_MARK, OTHER_MARK = "▌", "│"
CONTINUED_MARK = "↪"
"""In the number column of the rows a long line wraps onto."""

Pieces = list[tuple[str, Style]]


class DiffRowPainter:
    """The row-painting half of `DiffView` (mixed into it; not a widget of its own)."""

    def _over(self: DiffView, component: str) -> Style:
        """A style laid over another (its background is left alone)."""
        return self.get_visual_style(component, partial=True)

    def _dimming(self: DiffView, hunk: int | None) -> Style:
        """Laid over a row's text: struck when its hunk is skipped, dimmed when stale."""
        style = Style()
        if hunk is not None and hunk not in self._selected:
            style += self._over("diff-view--deselected")
        if self.stale:
            style += self._over("diff-view--stale")
        return style

    def _line_base(self: DiffView, kind: LineKind) -> Style:
        if kind is LineKind.ADDED:
            return self.get_visual_style("diff-view--added")
        if kind is LineKind.REMOVED:
            return self.get_visual_style("diff-view--removed")
        return self.visual_style

    def _marker(self: DiffView, hunk: int, base: Style) -> tuple[str, Style]:
        glyph = CURRENT_MARK if hunk == self.current_hunk else OTHER_MARK
        state = "selected" if hunk in self._selected else "deselected"
        return glyph, base + self._over(f"diff-view--gutter-{state}") + self._dimming(None)

    def _header(self: DiffView, hunk: int, width: int) -> list[Pieces]:
        current = "-current" if hunk == self.current_hunk else ""
        base = self.get_visual_style(f"diff-view--hunk-header{current}")
        box = ("[x] " if hunk in self._selected else "[ ] ") if self.choosing else ""
        text = Content(f" {box}{printable(self.parsed.hunks[hunk].header)}")
        text = text.truncate(width - 1, ellipsis=True, pad=True)
        return [[self._marker(hunk, base), (text.plain, base + self._dimming(hunk))]]

    def _marked_code(self: DiffView, line: DiffLine, hunk: int) -> Content:
        """The coloured code with the words that changed within the line marked."""
        code = self._code_of(line, hunk)
        if line.kind is LineKind.CONTEXT:
            return code
        emphasis = self.get_visual_style(
            "diff-view--added-changed"
            if line.kind is LineKind.ADDED
            else "diff-view--removed-changed"
        )
        for start, end in self.changed_ranges(line):
            code = code.stylize(emphasis, start, end)
        return code

    def _numbered(
        self: DiffView, line: DiffLine, hunk: int, numbers: str, continued: str, code_width: int
    ) -> list[Pieces]:
        """Line number(s), the +/- sign and the coloured code, on the line's background,
        wrapped to `code_width` cells; `continued` stands in for the numbers on later rows."""
        base = self._line_base(line.kind)
        over = self._dimming(hunk)
        sign, sign_style = "  ", base
        if line.kind is not LineKind.CONTEXT:
            added = line.kind is LineKind.ADDED
            sign = "+ " if added else "- "
            sign_style = base + self._over(f"diff-view--{'added' if added else 'removed'}-sign")
        number_style = base + self._over("diff-view--line-number") + over
        code = self._marked_code(line, hunk)
        pieces: list[Pieces] = []
        for part, chunk in enumerate(code.divide(cell_breaks(code.plain, code_width))):
            rendered = [(text, style + over) for text, style in chunk.render(base, end="")]
            pad = code_width - chunk.cell_length
            pieces.append(
                [
                    (continued if part else numbers, number_style),
                    (sign, sign_style + over),
                    *rendered,
                    (" " * max(0, pad), base),
                ]
            )
        return pieces

    def _note(self: DiffView, indent: int, width: int) -> Pieces:
        style = self.visual_style + self._over("diff-view--note") + self._dimming(None)
        text = Content(NO_NEWLINE_NOTE).truncate(width, ellipsis=True, pad=True).plain
        return [(" " * indent, style), (text, style)]

    def _unified_row(self: DiffView, row: UnifiedRow, width: int) -> list[Pieces]:
        if row.kind is RowKind.HUNK_HEADER:
            return self._header(row.hunk, width)
        assert row.line is not None
        line, digits = row.line, self._digits
        if row.kind is RowKind.NOTE:
            indent = 2 * digits + 4
            return [[self._marker(row.hunk, self.visual_style), *self._note(indent, width)]]
        old = "" if line.old_no is None else str(line.old_no)
        new = "" if line.new_no is None else str(line.new_no)
        numbers = f"{old:>{digits}} {new:>{digits}} "
        continued = f"{'':>{digits}} {CONTINUED_MARK:>{digits}} "
        code_width, _ = self._code_widths(width)
        marker = self._marker(row.hunk, self._line_base(line.kind))
        return [
            [marker, *pieces]
            for pieces in self._numbered(line, row.hunk, numbers, continued, code_width)
        ]

    def _split_row(self: DiffView, row: SplitRow, width: int) -> list[Pieces]:
        if row.kind is RowKind.HUNK_HEADER:
            return self._header(row.hunk, width)
        left_code, right_code = self._code_widths(width)
        left = self._split_side(row, row.left, left_code, old=True)
        right = self._split_side(row, row.right, right_code, old=False)
        height = max(len(left), len(right))
        divider = self.visual_style + self._over("diff-view--line-number")
        marker = self._marker(row.hunk, self.visual_style)
        return [
            [
                marker,
                *self._side_part(row, row.left, left, part, left_code),
                ("│", divider),
                *self._side_part(row, row.right, right, part, right_code),
            ]
            for part in range(height)
        ]

    def _side_part(
        self: DiffView,
        row: SplitRow,
        line: DiffLine | None,
        parts: list[Pieces],
        part: int,
        code_width: int,
    ) -> Pieces:
        """Line `part` of one side, blank on its own background below where that side ends."""
        if part < len(parts):
            return parts[part]
        if line is None or row.kind is RowKind.NOTE:
            style = self.get_visual_style("diff-view--filler")
        else:
            style = self._line_base(line.kind)
        return [(" " * (self._digits + 3 + code_width), style)]

    def _split_side(
        self: DiffView, row: SplitRow, line: DiffLine | None, code_width: int, *, old: bool
    ) -> list[Pieces]:
        digits = self._digits
        if line is None:
            filler = self.get_visual_style("diff-view--filler")
            return [[(" " * (digits + 3 + code_width), filler)]]
        if row.kind is RowKind.NOTE:
            return [self._note(digits + 3, code_width)]
        number = line.old_no if old else line.new_no
        numbers = f"{'' if number is None else number:>{digits}} "
        continued = f"{CONTINUED_MARK:>{digits}} "
        return self._numbered(line, row.hunk, numbers, continued, code_width)
