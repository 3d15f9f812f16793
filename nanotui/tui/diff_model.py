"""A unified diff, parsed into hunks and laid out as unified or side-by-side rows.

Pure Python: the diff widget renders these rows; nothing here knows about the terminal.
Hunk indexes are 0-based in diff order, the same numbering `apply_hunks` uses, so the
hunks a person selects on screen are exactly the ones that get written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import Enum
from itertools import zip_longest

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import _TokenType
from pygments.util import ClassNotFound
from rich.cells import get_character_cell_size

DEV_NULL = "/dev/null"
NO_NEWLINE_NOTE = "\\ No newline at end of file"

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


class LineKind(Enum):
    """What a line of a hunk does to the file."""

    CONTEXT = " "
    REMOVED = "-"
    ADDED = "+"


class RowKind(Enum):
    """What a row on screen shows."""

    HUNK_HEADER = "header"
    LINE = "line"
    NOTE = "note"
    """The "No newline at end of file" marker under the line it is about."""


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk, with its numbers in the old and the new file (1-based)."""

    kind: LineKind
    text: str
    """Without its +/-/space mark and without the newline."""
    old_no: int | None
    new_no: int | None
    no_newline: bool = False
    """The file ends with this line and has no newline after it."""


@dataclass
class Hunk:
    """One `@@` block of the diff."""

    index: int
    header: str
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: list[DiffLine] = field(default_factory=list)


@dataclass
class ParsedDiff:
    """A diff of one file: its paths and its hunks in diff order."""

    old_path: str | None
    """None when the diff creates the file."""
    new_path: str | None
    """None when the diff deletes the file."""
    hunks: list[Hunk]

    @property
    def is_new_file(self) -> bool:
        return self.old_path is None and self.new_path is not None

    @property
    def line_count(self) -> int:
        return sum(len(hunk.lines) for hunk in self.hunks)

    @property
    def last_line_number(self) -> int:
        """The largest line number shown, old or new (sets the width of the number columns)."""
        return max(
            (max(line.old_no or 0, line.new_no or 0) for hunk in self.hunks for line in hunk.lines),
            default=0,
        )


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


def parse_diff(diff: str) -> ParsedDiff:
    """Parse a one-file unified diff (as `file_change` writes it); tolerant of junk lines."""
    old_path: str | None = None
    new_path: str | None = None
    hunks: list[Hunk] = []
    hunk: Hunk | None = None
    old_left = new_left = 0
    old_no = new_no = 0
    # Split on "\n" only: str.splitlines would also break on \f, \v or \u2028 inside a line.
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for raw in lines:
        inside = hunk is not None and (old_left > 0 or new_left > 0)
        if inside and raw[:1] in (" ", "-", "+", ""):
            assert hunk is not None
            kind = LineKind(raw[:1] or " ")  # an empty line is context whose space was eaten
            line = DiffLine(
                kind,
                raw[1:],
                old_no if kind is not LineKind.ADDED else None,
                new_no if kind is not LineKind.REMOVED else None,
            )
            hunk.lines.append(line)
            if kind is not LineKind.ADDED:
                old_no += 1
                old_left -= 1
            if kind is not LineKind.REMOVED:
                new_no += 1
                new_left -= 1
            continue
        if raw.startswith("\\"):
            if hunk is not None and hunk.lines:
                last = hunk.lines[-1]
                hunk.lines[-1] = DiffLine(last.kind, last.text, last.old_no, last.new_no, True)
            continue
        match = _HUNK_HEADER.match(raw)
        if match:
            old_start, old_count, new_start, new_count = (
                int(group) if group is not None else 1 for group in match.groups()[:4]
            )
            hunk = Hunk(len(hunks), raw, old_start, old_count, new_start, new_count)
            hunks.append(hunk)
            old_left, new_left = old_count, new_count
            # A range of length 0 names the line before it, so numbering starts one later.
            old_no = old_start if old_count else old_start + 1
            new_no = new_start if new_count else new_start + 1
        elif raw.startswith("--- ") and hunk is None:
            old_path = _header_path(raw[4:], "a/")
        elif raw.startswith("+++ ") and hunk is None:
            new_path = _header_path(raw[4:], "b/")
    parsed = ParsedDiff(old_path, new_path, hunks)
    if parsed.is_new_file and not hunks:
        # An empty new file: apply_hunks counts a new file as one hunk (all or nothing), so
        # show one empty hunk the user can select, or the file could never be created.
        parsed.hunks.append(Hunk(0, "@@ -0,0 +0,0 @@ (empty file)", 0, 0, 0, 0))
    return parsed


def _header_path(value: str, prefix: str) -> str | None:
    path = value.split("\t", 1)[0].rstrip()
    if path == DEV_NULL:
        return None
    return path[len(prefix) :] if path.startswith(prefix) else path


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


# Characters that would move the cursor, hide text or break a line on screen. A model wrote
# this diff: an escape sequence must show as what it is, not act on the terminal.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if code != 0x09}
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})
_CONTROL_PICTURES.update({0x2028: "\ufffd", 0x2029: "\ufffd"})


def printable(text: str, tab_size: int = 4) -> str:
    """The line as it should appear: tabs expanded, control characters made visible."""
    return text.translate(_CONTROL_PICTURES).expandtabs(tab_size)


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


# ---- what changed within a line -----------------------------------------------------------

Ranges = list[tuple[int, int]]
"""(start, end) character ranges within one line's printable text."""
MAX_INTRALINE_CHARS = 4_000
"""Longer pairs are left to the line colours alone: matching them would stall the screen."""
MIN_INTRALINE_LIKENESS = 0.4
"""Pairs less alike than this are rewrites, not edits: marking within them would be noise."""
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]+")


def changed_pairs(hunk: Hunk) -> list[tuple[DiffLine, DiffLine]]:
    """Removed and added lines that stand for each other: in each run of changes, in order
    (the same pairing the side-by-side view shows on one row)."""
    pairs: list[tuple[DiffLine, DiffLine]] = []
    removed: list[DiffLine] = []
    added: list[DiffLine] = []
    for line in [*hunk.lines, None]:
        if line is None or line.kind is LineKind.CONTEXT:
            # Where one side runs longer, its extra lines stand for nothing on the other.
            pairs += zip(removed, added, strict=False)
            removed, added = [], []
        elif line.kind is LineKind.REMOVED:
            removed.append(line)
        else:
            added.append(line)
    return pairs


def intraline_ranges(old: str, new: str) -> tuple[Ranges, Ranges]:
    """The parts of `old` and `new` (printable texts) that differ, word by word, so that a
    one-character fix such as `<` to `<=` stands out; empty when the lines are unalike."""
    if old == new or len(old) + len(new) > MAX_INTRALINE_CHARS:
        return [], []
    old_tokens, new_tokens = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    if matcher.ratio() < MIN_INTRALINE_LIKENESS:
        return [], []
    old_starts = _token_starts(old_tokens)
    new_starts = _token_starts(new_tokens)
    old_ranges: Ranges = []
    new_ranges: Ranges = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            old_ranges.append((old_starts[i1], old_starts[i2]))
        if j2 > j1:
            new_ranges.append((new_starts[j1], new_starts[j2]))
    return old_ranges, new_ranges


def _token_starts(tokens: list[str]) -> list[int]:
    """The offset of each token, and one past the end."""
    starts = [0]
    for token in tokens:
        starts.append(starts[-1] + len(token))
    return starts


# ---- syntax colours -----------------------------------------------------------------------

Spans = list[tuple[int, int, str]]
"""(start, end, style) over one line's text."""
MAX_HIGHLIGHT_CHARS = 400_000
MAX_HIGHLIGHT_LINE = 2_000
"""Beyond these (minified or generated text) lexing would stall the screen: shown plain."""


def lexer_name(path: str | None) -> str | None:
    """The pygments lexer for a file name, or None (plain text) for types it does not know."""
    if not path:
        return None
    if path.endswith(".tcss"):
        return "scss"  # Textual CSS, which pygments does not know by name
    try:
        lexer = get_lexer_for_filename(path)
    except ClassNotFound:
        return None
    return lexer.aliases[0] if lexer.aliases else lexer.name


def highlight_spans(
    texts: list[str], language: str | None, styles: Mapping[_TokenType, str]
) -> list[Spans]:
    """Style spans for each line, lexing the lines as one text so that multi-line strings
    and comments colour right; `styles` maps token types (and their parents) to styles.
    """
    result: list[Spans] = [[] for _ in texts]
    if language is None or not texts:
        return result
    lengths = [len(text) for text in texts]
    if max(lengths) > MAX_HIGHLIGHT_LINE or sum(lengths) > MAX_HIGHLIGHT_CHARS:
        return result
    try:
        lexer = get_lexer_by_name(language, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return result
    resolved: dict[_TokenType, str] = {}
    row = column = 0
    for token_type, value in lexer.get_tokens("\n".join(texts)):
        if token_type not in resolved:
            resolved[token_type] = _token_style(token_type, styles)
        style = resolved[token_type]
        for offset, part in enumerate(value.split("\n")):
            if offset:
                row, column = row + 1, 0
            if part and style and row < len(texts):
                # Clipped: a lexer that rewrote the text must not colour past the line.
                end = min(column + len(part), len(texts[row]))
                if column < end:
                    result[row].append((column, end, style))
            column += len(part)
    return result


def _token_style(token_type: _TokenType | None, styles: Mapping[_TokenType, str]) -> str:
    while token_type is not None:
        if style := styles.get(token_type):
            return style
        token_type = token_type.parent
    return ""
