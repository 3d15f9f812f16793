"""Applying a unified diff (as nanotui writes them) to the text it was computed from.

Front ends only receive the diff of a proposed change; to open the whole proposed file in
the user's editor they rebuild it from the file on disk and the diff.
"""

from __future__ import annotations

import re

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(Exception):
    """The diff does not fit the text (the file changed since the diff was computed)."""


def apply_unified_diff(old_text: str, diff: str) -> str:
    """The new text: `old_text` with every hunk of `diff` applied."""
    old_lines = old_text.splitlines(keepends=True)
    result: list[str] = []
    cursor = 0
    previous: str | None = None
    for line in diff.splitlines(keepends=True):
        if line.startswith(("--- ", "+++ ")) and previous is None:
            continue
        match = HUNK_HEADER.match(line)
        if match:
            start = max(int(match.group(1)) - 1, 0)
            if int(match.group(2) or "1") == 0:
                start = int(match.group(1))  # an empty old range names the line before it
            if start < cursor:
                raise PatchError("the diff's hunks overlap or are out of order")
            result += old_lines[cursor:start]
            cursor = start
            previous = "@"
            continue
        if line.startswith("\\"):
            # "\ No newline at end of file" applies to the line just before it.
            if previous == "+" and result:
                result[-1] = result[-1].rstrip("\r\n")
            continue
        mark, body = line[:1], line[1:]
        if mark in (" ", "-"):
            if cursor >= len(old_lines) or old_lines[cursor].rstrip("\r\n") != body.rstrip("\r\n"):
                raise PatchError(f"line {cursor + 1} does not match the diff")
            if mark == " ":
                result.append(old_lines[cursor])
            cursor += 1
        elif mark == "+":
            result.append(body if body.endswith("\n") else body + "\n")
        previous = mark
    result += old_lines[cursor:]
    return "".join(result)
