"""A snapshot from the paths the change feed told of: git is asked about those alone.

The whole `git status` compares every file with the index; here the feed already knows which
files were written, so what remains is what status would also decide for them: which are
tracked (a lookup each in the private index), which of the others git ignores, and, after
the update, how many now differ from the last tree (the index's blob ids before and after).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nanotui.protocol.checkpoints import CheckpointError, SkippedFile
from nanotui.vcs.gitrunner import GitRunner, nul_separated

ReasonToSkip = Callable[[str], tuple[str, int]]


@dataclass(frozen=True)
class ToldChanges:
    paths: list[str]
    """The paths to update in the private index (deleted ones included)."""
    skipped: list[SkippedFile]
    before: dict[str, str | None]
    """Each path's blob id in the private index before the update (None: not there)."""

    def changed(self, runner: GitRunner) -> int | None:
        """After the update: how many files differ from the last tree, or None when a
        tree diff must say (a tracked file whose blob id stayed: its mode alone may have
        changed, or git was told to leave its entry alone, as for skip-worktree)."""
        after = index_blobs(runner, self.paths)
        if any(self.before[p] is not None and after[p] == self.before[p] for p in self.paths):
            return None
        # What the update did, not what was on disk a moment before: a file may come or go.
        return sum(1 for path in self.paths if after[path] != self.before[path])


def sort_told(
    runner: GitRunner,
    root: Path,
    told: Iterable[str],
    still_skipped: list[SkippedFile],
    reason_to_skip: ReasonToSkip,
) -> ToldChanges | None:
    """What the snapshot must update, or None when only the whole status can say: a new
    file below a folder holding a `.git` (status looks inside only if that folder is
    tracked), or a file with other hard links (a write through one name raises no event
    for the others). `still_skipped`: what the last snapshot left out and was not told of."""
    every = sorted(told)
    top = os.fspath(root)
    present = set()
    for path in every:
        try:
            info = os.lstat(os.path.join(top, path))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            return None
        present.add(path)
    before = index_blobs(runner, every)
    untracked = [path for path in every if path in present and before[path] is None]
    if any(_below_a_repository(root, path) for path in untracked):
        return None
    ignored = ignored_by_rules(runner, untracked)
    skipped = list(still_skipped)
    paths: list[str] = []
    for path in every:
        if path in ignored:
            continue
        reason, size = reason_to_skip(path)
        if reason:
            skipped.append(SkippedFile(path, reason, size))
        else:
            paths.append(path)
    return ToldChanges(paths, skipped, before)


def index_blobs(runner: GitRunner, paths: list[str]) -> dict[str, str | None]:
    """Each path's blob id in the private index (stage 0), or None when it is not there.
    One path per line: the caller keeps paths holding a newline or carriage return out."""
    if not paths:
        return {}
    # ":0:" names stage 0 explicitly, so a path that starts with "1:" stays a path.
    lookups = "".join(f":0:{path}\n" for path in paths).encode("utf-8", "surrogateescape")
    answers = runner.run("cat-file", "--batch-check=%(objectname)", stdin=lookups)
    # Split at newlines only: str.splitlines() also splits at \v, \f, U+2028 and others,
    # which a name cat-file echoes back ("<name> missing") may hold.
    lines = answers.decode("utf-8", "surrogateescape").split("\n")[:-1]
    if len(lines) != len(paths):
        raise CheckpointError(f"git cat-file answered {len(lines)} of {len(paths)} lookups.")
    return {
        path: None if line.endswith(" missing") else line
        for path, line in zip(paths, lines, strict=True)
    }


def ignored_by_rules(runner: GitRunner, untracked: list[str]) -> set[str]:
    """Which of these untracked paths the ignore rules leave out."""
    if not untracked:
        return set()
    # --no-index: the index is not read (these are untracked), which also spares a walk
    # over all of it for every path asked about.
    out = runner.run(
        "check-ignore",
        "--no-index",
        "-z",
        "--stdin",
        stdin=nul_separated(untracked),
        ok_codes=(0, 1),
    )
    return {os.fsdecode(path) for path in out.split(b"\0") if path}


def _below_a_repository(root: Path, path: str) -> bool:
    """Whether a folder on `path`'s way (below the root) holds a `.git`."""
    parts = path.split("/")[:-1]
    return any(
        os.path.lexists(root.joinpath(*parts[: depth + 1], ".git")) for depth in range(len(parts))
    )
