"""Untrusted model text made inert in Markdown: it reads as text, never as markup or HTML.

Titles, explanations and notes come from the model, which read the pull request, which anyone
may have written. Escaped here, a `|` cannot split a table cell, `<script>` cannot become
HTML, `[x](url)` cannot hide a link and `@someone` cannot notify anyone. Code the model
suggests goes in a fence long enough that nothing inside can close it.
"""

from __future__ import annotations

import re

from nanotui.review.formats.wording import one_line, printable

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!&$])")
"""Characters that start markup anywhere in a line (CommonMark lets any be backslashed)."""
_LINE_START = re.compile(r"^([ \t]*)([-+=]|\d+(?=[.)]))", re.MULTILINE)
"""What makes a list, a heading underline or an ordered list only at the start of a line."""
_MENTION = re.compile(r"@(?=\w)")
_BACKTICKS = re.compile(r"`+")


def _escaped(text: str) -> str:
    text = _SPECIAL.sub(r"\\\1", text)
    # A zero-width space after "@": GitHub turns "@name" into a notification even when
    # backslashed, and a review should not page whoever the pull request's text names.
    return _MENTION.sub("@\u200b", text)


def inline(text: str) -> str:
    """Model text for one line of Markdown (a table cell, a bold title)."""
    return _escaped(one_line(text))


def block(text: str) -> str:
    """Model text as paragraphs: its line breaks kept, nothing in it read as markup."""
    return _LINE_START.sub(_unmarked, _escaped(printable(text).strip("\n")))


def _unmarked(start: re.Match[str]) -> str:
    indent, marker = start[1], start[2]
    return f"{indent}\\{marker}" if marker in "-+=" else f"{indent}{marker}\\"


def fence(content: str, info: str = "") -> str:
    """A fenced code block holding `content` verbatim, its fence longer than any run of
    backticks inside (a suggestion that itself holds ``` must not end the block early)."""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    marks = "`" * max(3, longest + 1)
    body = content if content.endswith("\n") or not content else content + "\n"
    return f"{marks}{info}\n{body}{marks}"
