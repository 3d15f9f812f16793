"""A snapshot from the paths the change feed told of: git is asked about those alone.

The whole `git status` compares every file with the index; here the feed already knows which
files were written, so what remains is what status would also decide for them: which are
tracked (a lookup each in the private index), which of the others git ignores, and how many
now differ from the last tree (their blob ids against the index's).
"""

from __future__ import annotations

import hashlib
import os
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
    changed: int | None
    """How many files differ from the last tree; None when a tree diff must say."""


def sort_told(
    runner: GitRunner,
    root: Path,
    told: Iterable[str],
    still_skipped: list[SkippedFile],
    reason_to_skip: ReasonToSkip,
) -> ToldChanges | None:
    """What the snapshot must update, or None when only the whole status can say (a new
    file below a folder holding a `.git`: status looks inside only if that folder is
    tracked). `still_skipped`: the files the last snapshot left out that were not told of."""
    every = sorted(told)
    before = index_blobs(runner, every)
    top = os.fspath(root)
    present = {path for path in every if os.path.lexists(os.path.join(top, path))}
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
    return ToldChanges(paths, skipped, _count_changed(runner, root, paths, before, present))


def index_blobs(runner: GitRunner, paths: list[str]) -> dict[str, str | None]:
    """Each path's blob id in the private index (stage 0), or None when it is not there."""
    if not paths:
        return {}
    # ":0:" names stage 0 explicitly, so a path that starts with "1:" stays a path.
    lookups = "".join(f":0:{path}\n" for path in paths).encode("utf-8", "surrogateescape")
    answers = runner.run("cat-file", "--batch-check=%(objectname)", stdin=lookups)
    lines = answers.decode("utf-8", "surrogateescape").splitlines()
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


def _count_changed(
    runner: GitRunner,
    root: Path,
    paths: list[str],
    before: dict[str, str | None],
    present: set[str],
) -> int | None:
    """How many of `paths` differ from the last tree; None when a file kept its bytes (its
    mode may have changed, which only a tree diff tells)."""
    gone = sum(1 for path in paths if path not in present and before[path] is not None)
    new = sum(1 for path in paths if path in present and before[path] is None)
    kept = [path for path in paths if path in present and before[path] is not None]
    if not kept:
        return gone + new
    after = blob_ids(runner, root, kept, len(before[kept[0]] or ""))
    if after is None or any(after[path] == before[path] for path in kept):
        return None
    return gone + new + len(kept)


def blob_ids(runner: GitRunner, root: Path, paths: list[str], id_length: int) -> dict | None:
    """The blob id each file would get (git's filters applied); None if one went meanwhile."""
    top = os.fspath(root)
    links = [path for path in paths if os.path.islink(os.path.join(top, path))]
    ids: dict[str, str] = {}
    algorithm = "sha1" if id_length == 40 else "sha256"
    for path in links:
        # git stores a link as a blob of its target; hash-object would follow it.
        target = os.readlink(os.fsencode(root / path))
        ids[path] = hashlib.new(algorithm, b"blob %d\0" % len(target) + target).hexdigest()
    linked = set(links)
    files = [path for path in paths if path not in linked]
    if files:
        names = "".join(f"{path}\n" for path in files).encode("utf-8", "surrogateescape")
        try:
            out = runner.run("hash-object", "--stdin-paths", stdin=names)
        except CheckpointError:
            return None
        ids.update(zip(files, out.decode().split(), strict=True))
    return ids


def _below_a_repository(root: Path, path: str) -> bool:
    """Whether a folder on `path`'s way (below the root) holds a `.git`."""
    parts = path.split("/")[:-1]
    return any(
        os.path.lexists(root.joinpath(*parts[: depth + 1], ".git")) for depth in range(len(parts))
    )
