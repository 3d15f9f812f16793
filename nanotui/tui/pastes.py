"""Large pastes: when text is too long to show whole, how it is named, and its fold marks.

The prompt puts a mark such as `[pasted 4,012 lines, 216 KB]` in place of a large paste and
puts the text back when the prompt is sent, so the model always gets all of it; the chat
folds a long prompt behind the same words. Pure functions, no widgets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

FOLD_LINES = 20
"""A text of more lines than this is folded."""
FOLD_CHARS = 4000
"""A text of more characters than this is folded, however few its lines."""

MARK_PATTERN = re.compile(r"\[pasted [\d,]+ lines?, [\d.,]+ (?:KB|MB|bytes?)(?: #\d+)?\]")
"""What a fold mark looks like (see `fold_mark`)."""


def line_count(text: str) -> int:
    """Lines as a reader counts them: a final line break does not start another."""
    return len(text.splitlines()) or 1


def is_large(text: str) -> bool:
    """Whether `text` is too long to show whole in the prompt or the chat."""
    return len(text) > FOLD_CHARS or line_count(text) > FOLD_LINES


def size_words(text: str) -> str:
    """`4,012 lines, 216 KB`: how long a text is, in lines and in bytes as UTF-8."""
    lines = line_count(text)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size >= 1024 * 1024:
        amount = f"{size / (1024 * 1024):.1f} MB"
    elif size >= 1024:
        amount = f"{round(size / 1024):,} KB"
    else:
        amount = f"{size:,} bytes" if size != 1 else "1 byte"
    return f"{lines:,} {'line' if lines == 1 else 'lines'}, {amount}"


def fold_mark(text: str, taken: Mapping[str, str] = {}) -> str:
    """The mark that stands for pasted `text`, unique among the marks `taken` for others."""
    base = f"pasted {size_words(text)}"
    mark, number = f"[{base}]", 1
    while taken.get(mark, text) != text:
        number += 1
        mark = f"[{base} #{number}]"
    return mark


def unfold(text: str, pastes: Mapping[str, str]) -> str:
    """`text` with every whole fold mark in it replaced by the paste it stands for."""
    marks = [mark for mark in pastes if mark in text]
    if not marks:
        return text
    # One pass, so that a paste that itself holds a mark's words is left as it was pasted.
    pattern = re.compile("|".join(map(re.escape, sorted(marks, key=len, reverse=True))))
    return pattern.sub(lambda match: pastes[match[0]], text)
