"""What a diff view colours: the words that changed within a line, and the code's syntax.

Pure Python over the lines `protocol.diff_parse` reads; the diff widget lays the ranges and
spans it gets here over the rows of `diff_layout`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import SequenceMatcher

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import _TokenType
from pygments.util import ClassNotFound

from nanotui.protocol.diff_parse import DiffLine, Hunk, LineKind

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
