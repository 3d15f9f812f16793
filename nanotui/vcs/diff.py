"""Differences between two trees: per-file status and line counts, and the raw entries."""

from __future__ import annotations

import os
from collections.abc import Sequence

from nanotui.protocol.checkpoints import FileDiff, RawChange
from nanotui.vcs.gitrunner import GitRunner


def literal_pathspecs(paths: Sequence[str] | None) -> list[str]:
    return ["--", *(f":(literal){p}" for p in paths)] if paths else []


def raw_changes(
    runner: GitRunner, old: str, new: str, paths: Sequence[str] | None = None
) -> list[RawChange]:
    out = runner.run(
        "diff-tree", "-r", "-z", "--raw", "--no-renames", old, new, *literal_pathspecs(paths)
    )
    parts = out.split(b"\0")
    changes = []
    for header, path in zip(parts[0::2], parts[1::2], strict=False):
        if not header.startswith(b":"):
            continue
        old_mode, new_mode, old_blob, new_blob, status = header[1:].decode().split(" ")
        changes.append(
            RawChange(os.fsdecode(path), status[:1], old_mode, new_mode, old_blob, new_blob)
        )
    return changes


def file_diffs(
    runner: GitRunner, old: str, new: str, paths: Sequence[str] | None = None
) -> list[FileDiff]:
    """Per-file status and added/removed lines from tree `old` to tree `new`, by path."""
    counts = _line_counts(runner, old, new, paths)
    diffs = []
    for change in raw_changes(runner, old, new, paths):
        added, removed = counts.get(change.path, (None, None))
        binary = added is None
        diffs.append(FileDiff(change.path, change.status, added or 0, removed or 0, binary))
    return sorted(diffs, key=lambda d: d.path)


def _line_counts(
    runner: GitRunner, old: str, new: str, paths: Sequence[str] | None
) -> dict[str, tuple[int | None, int | None]]:
    out = runner.run(
        "diff-tree", "-r", "-z", "--numstat", "--no-renames", old, new, *literal_pathspecs(paths)
    )
    counts: dict[str, tuple[int | None, int | None]] = {}
    for record in out.split(b"\0"):
        fields = record.split(b"\t", 2)
        if len(fields) != 3:
            continue
        added, removed, path = fields
        if added == b"-":  # binary
            counts[os.fsdecode(path)] = (None, None)
        else:
            counts[os.fsdecode(path)] = (int(added), int(removed))
    return counts


def patch(runner: GitRunner, old: str, new: str, paths: Sequence[str] | None = None) -> str:
    """The unified diff from `old` to `new`, as git prints it."""
    out = runner.run("diff-tree", "-r", "-p", "--no-color", old, new, *literal_pathspecs(paths))
    return out.decode("utf-8", errors="replace")
