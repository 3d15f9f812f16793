"""What the approval panel checks on disk before it lets a change through (no widgets here).

A diff is stale when the file no longer holds the bytes the diff was computed from: the user
(or another tool) edited it meanwhile. Approving it would clobber their edit, so it cannot be
approved until the model proposes it again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nanotui.protocol.change_texts import texts_before_write
from nanotui.protocol.diff_parse import PatchError
from nanotui.protocol.diffs import FileChange, apply_hunks
from nanotui.protocol.events import ApprovalRequested


def is_stale(request: ApprovalRequested, workspace: Path) -> bool:
    """True when the file on disk no longer matches what the request's diff was made from."""
    if request.kind != "write" or request.path is None:
        return False
    target = workspace / request.path
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return request.old_sha256 is not None
    except OSError:
        return True  # cannot be read: cannot be shown to be current
    if request.old_sha256 is None:
        return True  # proposed as a new file, but one exists now
    return hashlib.sha256(data).hexdigest() != request.old_sha256


def proposed_text(
    request: ApprovalRequested, workspace: Path, hunks: list[int] | None = None
) -> str:
    """The whole file as the change would leave it (for opening in the user's editor).

    With `hunks`, only those hunks (0-based) are applied: the editor opens what `y` would
    write, so a hunk the user unticked does not come back through the editor.
    """
    if request.path is None or request.diff is None:
        raise PatchError("this request has no file change")
    target = workspace / request.path
    old, new = texts_before_write(target, request.diff, exists=request.old_sha256 is not None)
    if hunks is None:
        return new
    change = FileChange(
        path=request.path,
        old_text=old,
        new_text=new,
        old_sha256=request.old_sha256,
        diff=request.diff,
    )
    return apply_hunks(change, hunks).new_text
