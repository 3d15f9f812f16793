"""A file change's whole text before and after, rebuilt from its diff and the file on disk.

Front ends receive only the diff of a change. Some need the whole text: the user's editor
opens the proposed file, and an editor driving nanotui over ACP shows a change as its old
and new text side by side. Before the change is written the file on disk is the old text;
after, it is the new one, and the diff walked backwards gives the old.
"""

from __future__ import annotations

from pathlib import Path

from nanotui.protocol.diff_parse import apply_unified_diff, parse_diff


def texts_before_write(target: Path, diff: str, *, exists: bool) -> tuple[str | None, str]:
    """(old, new) of a change not yet written to `target`; old is None for a new file.
    Raises PatchError, OSError or UnicodeDecodeError when they cannot be rebuilt."""
    old = target.read_bytes().decode("utf-8") if exists else None
    return old, apply_unified_diff(old or "", diff)


def texts_after_write(target: Path, diff: str) -> tuple[str | None, str]:
    """(old, new) of a change already written to `target`; old is None for a new file.
    Raises PatchError, OSError or UnicodeDecodeError when they cannot be rebuilt."""
    new = target.read_bytes().decode("utf-8")
    if parse_diff(diff).is_new_file:
        return None, new
    return apply_unified_diff(new, diff, reverse=True), new
