"""Reading a unified diff: its hunks and their numbered lines, and applying it to its old text.

One parser for every reader: the diff view lays out what `parse_diff` finds, and the editor
rebuilds a proposed file with `apply_unified_diff`, which walks the same hunks. Hunk indexes
are 0-based in diff order, the numbering `diffs.apply_hunks` uses, so the hunks a person
selects on screen are exactly the ones that get written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

DEV_NULL = "/dev/null"
NO_NEWLINE_NOTE = "\\ No newline at end of file"
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


class PatchError(Exception):
    """The diff does not fit the text (the file changed since the diff was computed)."""


class LineKind(Enum):
    """What a line of a hunk does to the file."""

    CONTEXT = " "
    REMOVED = "-"
    ADDED = "+"


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


def parse_diff(diff: str) -> ParsedDiff:
    """Parse a one-file unified diff (as `diffs.make_diff` writes it); tolerant of junk lines."""
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
        match = HUNK_HEADER.match(raw)
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


def apply_unified_diff(old_text: str, diff: str, *, reverse: bool = False) -> str:
    """The new text: `old_text` with every hunk of `diff` applied; with `reverse`, the old
    text rebuilt from the new one (`old_text` is then the text the diff made).

    Front ends only receive the diff of a change; to open the whole proposed file in the
    user's editor, or to show an editor over ACP a change's whole before and after, they
    rebuild it from the file on disk and the diff.
    """
    # Backwards, the lines a hunk adds are the ones the text must hold, and it gets back
    # the lines the hunk removed.
    given, taken = (
        (LineKind.REMOVED, LineKind.ADDED) if reverse else (LineKind.ADDED, LineKind.REMOVED)
    )
    # Split as the diff's writer split the text, so its lines and these line up one to one.
    old_lines = old_text.splitlines(keepends=True)
    result: list[str] = []
    cursor = 0
    for hunk in parse_diff(diff).hunks:
        first, count = (
            (hunk.new_start, hunk.new_count) if reverse else (hunk.old_start, hunk.old_count)
        )
        # An empty old range names the line before it.
        start = first if count == 0 else max(first - 1, 0)
        if start < cursor:
            raise PatchError("the diff's hunks overlap or are out of order")
        result += old_lines[cursor:start]
        cursor = start
        for line in hunk.lines:
            if line.kind is given:
                result.append(line.text if line.no_newline else line.text + "\n")
                continue
            if cursor >= len(old_lines) or _bare(old_lines[cursor]) != _bare(line.text):
                raise PatchError(f"line {cursor + 1} does not match the diff")
            if line.kind is not taken:
                result.append(old_lines[cursor])
            cursor += 1
    result += old_lines[cursor:]
    return "".join(result)


def _bare(line: str) -> str:
    return line.rstrip("\r\n")
