"""A proposed change to one file: computed first, shown as a diff, approved, then applied.

Writing tools split their work in two so the engine can put a person in between: `plan()`
computes a `FileChange` (nothing on disk changes), the front end shows its diff, possibly
narrowed hunk by hunk with `apply_hunks`, and `apply_change` writes it, atomically, only if
the file still holds what the change was computed from.
"""

from __future__ import annotations

import difflib
import hashlib
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from nanotui.protocol.atomic_write import write_at
from nanotui.security.jail.workspace import PathRefused, Workspace, WriteTarget
from nanotui.tools.base import Tool, ToolContext, ToolFailure, ToolKind, ToolOutput

CONTEXT_LINES = 3
NEW_FILE_MODE = 0o644
"""Before the umask, which the kernel applies when the file is created."""


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


def make_change(
    ws: Workspace, rel_path: str, old_text: str | None, new_text: str, old_bytes: bytes | None
) -> FileChange:
    """Build the change for `rel_path`; refuses (PathRefused) a path that may not be written."""
    ws.resolve_for_write(rel_path)
    return _build(rel_path, old_text, new_text, _sha256(old_bytes))


def read_for_change(ws: Workspace, path: str) -> tuple[str, bytes | None]:
    """The path as the model sees it and the bytes it holds now (None: no such file yet).

    Read through the folder the jail holds, so the "before" of a diff is never read from
    outside the workspace; refuses (PathRefused) a path that may not be written.
    """
    try:
        target = ws.open_dir_for_write(path)
    except FileNotFoundError as exc:
        return ws.relative(Path(exc.filename)), None  # a folder on the way is missing
    with target:
        current = target.read_current()
        return target.shown, None if current is None else current[0]


def apply_hunks(change: FileChange, selected: list[int]) -> FileChange:
    """The same change narrowed to the chosen hunks (0-based, in diff order)."""
    if change.old_text is None:
        # A new file is one hunk: all of it or nothing (apply_change refuses "nothing").
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
    return _build(change.path, change.old_text, "".join(result), change.old_sha256)


def edit_diff(path: str, proposed: str, edited: str) -> str:
    """How the text a person saved differs from the proposal (empty when it does not)."""
    return _build(path, proposed, edited, None, labels=("proposed/", "edited/")).diff


def diff_hunks(change: FileChange) -> list[str]:
    """The diff's hunks as text, each starting with its `@@` line; indexes match apply_hunks."""
    hunks: list[str] = []
    for line in change.diff.splitlines(keepends=True):
        if line.startswith("@@"):
            hunks.append(line)
        elif hunks:
            hunks[-1] += line
    return hunks


def apply_change(change: FileChange, ctx: ToolContext) -> ToolOutput:
    """Write the change if the file still holds what it was computed from; never raises."""
    if not change.diff:
        # Every hunk was declined (or there was nothing to change): the file stays as it is.
        return ToolOutput(ok=True, content=f"No change applied to {change.path}.")
    try:
        # The jail holds the target's folder open; the stale check, the temp file and the
        # rename all happen inside that descriptor, so a folder swapped for a symlink after
        # the check cannot send the write elsewhere.
        with ctx.workspace.open_dir_for_write(change.path, create_parents=True) as target:
            mode = _check_not_stale(change, target)
            data = change.new_text.encode("utf-8")
            write_at(target.folder_fd, target.name, data, mode=mode, new_file_mode=NEW_FILE_MODE)
    except (ToolFailure, PathRefused) as exc:
        return ToolOutput(ok=False, content=str(exc))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return ToolOutput(ok=False, content=f"Could not write {change.path}: {reason}.")
    added, removed = count_changed_lines(change.diff)
    return ToolOutput(
        ok=True,
        content=f"Wrote {change.path} (+{added} -{removed} lines)\n\n{change.diff}",
        data={
            "path": change.path,
            "added": added,
            "removed": removed,
            "created": change.old_sha256 is None,
        },
        diff=change.diff,
        files_changed=[change.path],
    )


def count_changed_lines(diff: str) -> tuple[int, int]:
    """(added, removed) line counts of a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


class WriteTool(Tool):
    """A tool that changes one file: `plan` computes the change, `run` plans and applies it."""

    kind: ClassVar[ToolKind] = ToolKind.WRITE

    @abstractmethod
    def plan(self, args: Any, ctx: ToolContext) -> FileChange:
        """Compute the change without touching the disk.

        Raises ToolFailure when the change cannot be made, and PathRefused when the jail
        refuses the path (kept apart so that the engine can report it as a refusal).
        """

    async def run(self, args: Any, ctx: ToolContext) -> ToolOutput:
        try:
            change = self.plan(args, ctx)
        except (ToolFailure, PathRefused) as exc:
            return ToolOutput(ok=False, content=str(exc))
        return apply_change(change, ctx)


# ---- building diffs -----------------------------------------------------------------------


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _hunk_groups(old: list[str], new: list[str]) -> list[list[tuple[str, int, int, int, int]]]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return list(matcher.get_grouped_opcodes(CONTEXT_LINES))


def _build(
    path: str,
    old_text: str | None,
    new_text: str,
    old_sha256: str | None,
    labels: tuple[str, str] = ("a/", "b/"),
) -> FileChange:
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
    diff = "".join(header + body) if body or old_text is None else ""
    return FileChange(
        path=path, old_text=old_text, new_text=new_text, old_sha256=old_sha256, diff=diff
    )


def _range(start: int, stop: int) -> str:
    # As in `diff -u`: one line is "n", an empty range names the line before it.
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def _diff_line(mark: str, line: str) -> str:
    if line.endswith("\n"):
        return mark + line
    return f"{mark}{line}\n\\ No newline at end of file\n"


# ---- writing ------------------------------------------------------------------------------


def _check_not_stale(change: FileChange, target: WriteTarget) -> int | None:
    """Refuse when the file moved on since the change was computed; returns its mode bits."""
    if change.old_sha256 is None:
        if target.exists():
            raise ToolFailure(
                f"{change.path} was created on disk since the change was computed; read it again."
            )
        return None
    current = target.read_current()
    if current is None:
        raise ToolFailure(
            f"{change.path} was deleted since the change was computed; read the folder again."
        )
    data, mode = current
    if _sha256(data) != change.old_sha256:
        raise ToolFailure(
            f"{change.path} changed on disk since the change was computed; read it again."
        )
    return mode
