"""A change to one file as a unified diff: made with difflib, narrowed to the hunks chosen.

A writing tool computes a `FileChange` before anything is written; the front end shows its
diff (read back with `diff_parse.parse_diff`), a person may keep only some hunks
(`apply_hunks`) or edit the result (`edit_diff` says how it differs from the proposal), and
only then is it written. Hunks are counted the same way everywhere: 0-based, in diff order.
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel

from nanotui.protocol.diff_parse import NO_NEWLINE_NOTE

CONTEXT_LINES = 3

Opcode = tuple[str, int, int, int, int]


class FileChange(BaseModel):
    """One file's before and after, with the unified diff between them."""

    path: str
    """Relative to the workspace root, posix."""
    old_text: str | None
    """None: the file does not exist yet."""
    new_text: str
    old_sha256: str | None
    """sha256 of the bytes on disk when the change was computed; None for a new file."""
    diff: str


def file_change(
    path: str, old_text: str | None, new_text: str, old_sha256: str | None
) -> FileChange:
    """The change from `old_text` (None: no such file yet) to `new_text`, with its diff."""
    return FileChange(
        path=path,
        old_text=old_text,
        new_text=new_text,
        old_sha256=old_sha256,
        diff=make_diff(path, old_text, new_text),
    )


def make_diff(
    path: str, old_text: str | None, new_text: str, labels: tuple[str, str] = ("a/", "b/")
) -> str:
    """The unified diff from `old_text` (None: a new file) to `new_text`; empty when equal.

    Not `difflib.unified_diff`: it cannot turn off the matcher's "popular line" heuristic,
    which would group the hunks differently from `apply_hunks`, and it does not mark a last
    line that lacks its newline.
    """
    old_lines = (old_text or "").splitlines(keepends=True)
    new_lines = new_text.splitlines(keepends=True)
    old_name = "/dev/null" if old_text is None else labels[0] + path
    header = [f"--- {old_name}\n", f"+++ {labels[1]}{path}\n"]
    body: list[str] = []
    for group in _hunk_groups(old_lines, new_lines):
        first, last = group[0], group[-1]
        old_range = _range(first[1], last[2])
        new_range = _range(first[3], last[4])
        body.append(f"@@ -{old_range} +{new_range} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body += [_diff_line(" ", line) for line in old_lines[i1:i2]]
                continue
            body += [_diff_line("-", line) for line in old_lines[i1:i2]]
            body += [_diff_line("+", line) for line in new_lines[j1:j2]]
    return "".join(header + body) if body or old_text is None else ""


def apply_hunks(change: FileChange, selected: list[int]) -> FileChange:
    """The same change narrowed to the chosen hunks (0-based, in diff order)."""
    if change.old_text is None:
        # A new file is one hunk: all of it or nothing (writing refuses "nothing").
        if 0 in selected:
            return change
        return change.model_copy(update={"new_text": "", "diff": ""})
    old_lines = change.old_text.splitlines(keepends=True)
    new_lines = change.new_text.splitlines(keepends=True)
    chosen = set(selected)
    result: list[str] = []
    cursor = 0
    for index, group in enumerate(_hunk_groups(old_lines, new_lines)):
        if index not in chosen:
            continue
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                continue
            result += old_lines[cursor:i1]
            result += new_lines[j1:j2]
            cursor = i2
    result += old_lines[cursor:]
    return file_change(change.path, change.old_text, "".join(result), change.old_sha256)


def edit_diff(path: str, proposed: str, edited: str) -> str:
    """How the text a person saved differs from the proposal (empty when it does not)."""
    return make_diff(path, proposed, edited, labels=("proposed/", "edited/"))


def diff_hunks(change: FileChange) -> list[str]:
    """The diff's hunks as text, each starting with its `@@` line; indexes match apply_hunks."""
    hunks: list[str] = []
    for line in change.diff.splitlines(keepends=True):
        if line.startswith("@@"):
            hunks.append(line)
        elif hunks:
            hunks[-1] += line
    return hunks


def count_changed_lines(diff: str) -> tuple[int, int]:
    """(added, removed) line counts of a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def _hunk_groups(old: list[str], new: list[str]) -> list[list[Opcode]]:
    # autojunk off: with it, lines common in a long file (blank ones) stop being matched.
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return list(matcher.get_grouped_opcodes(CONTEXT_LINES))


def _range(start: int, stop: int) -> str:
    # As in `diff -u`: one line is "n", an empty range names the line before it.
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def _diff_line(mark: str, line: str) -> str:
    if line.endswith("\n"):
        return mark + line
    return f"{mark}{line}\n{NO_NEWLINE_NOTE}\n"
