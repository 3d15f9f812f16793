"""A proposed change to one file: computed first, shown as a diff, approved, then applied.

Writing tools split their work in two so the engine can put a person in between: `plan()`
computes a `FileChange` (nothing on disk changes; the diff model is `protocol.diffs`), the
front end shows its diff, possibly narrowed hunk by hunk, and `apply_change` writes it,
atomically, only if the file still holds what the change was computed from.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from nanotui.protocol.atomic_write import write_at
from nanotui.protocol.diffs import FileChange, count_changed_lines, file_change
from nanotui.security.jail.workspace import PathRefused, Workspace, WriteTarget
from nanotui.tools.base import Tool, ToolContext, ToolFailure, ToolKind, ToolOutput

NEW_FILE_MODE = 0o644
"""Before the umask, which the kernel applies when the file is created."""


def make_change(
    ws: Workspace, rel_path: str, old_text: str | None, new_text: str, old_bytes: bytes | None
) -> FileChange:
    """Build the change for `rel_path`; refuses (PathRefused) a path that may not be written."""
    ws.resolve_for_write(rel_path)
    return file_change(rel_path, old_text, new_text, _sha256(old_bytes))


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


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


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
