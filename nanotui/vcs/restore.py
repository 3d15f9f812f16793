"""Restoring files from a checkpoint: planned against a fresh safety snapshot, written atomically.

Every file is written to a temporary file and renamed over its path, so a restore killed at
any moment leaves each file either as it was or as the checkpoint has it; the safety
checkpoint taken first holds everything as it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nanotui.protocol.atomic_write import temp_name, write_atomically
from nanotui.protocol.checkpoints import Checkpoint, RawChange, RestorePlan, SkippedFile
from nanotui.vcs.diff import raw_changes
from nanotui.vcs.gitrunner import GitRunner
from nanotui.vcs.snapshot import TreeSnapshot

GITLINK, SYMLINK, EXECUTABLE = "160000", "120000", "100755"


class Conflict(Exception):
    """A path restore must not write (the message says why, completing "left as it is: ...")."""


def plan_restore(
    runner: GitRunner,
    current: TreeSnapshot,
    target: Checkpoint,
    files: Sequence[str] | None,
    removable: Collection[str],
) -> RestorePlan:
    """Sort each difference between now and `target` into write, remove, or leave alone."""
    skipped_now = {s.path for s in current.skipped}
    skipped_then = {s.path for s in target.skipped}
    plan = RestorePlan()
    if files is not None and not files:
        return plan  # an empty choice restores nothing (None means everything)
    for change in raw_changes(runner, current.tree, target.tree, files):
        reason = _reason_to_leave(change, skipped_now, skipped_then)
        if reason:
            plan.not_restored.append(SkippedFile(change.path, reason))
        elif change.status == "D" and change.path in removable:
            plan.removals.append(change.path)
        elif change.status == "D":
            plan.left_in_place.append(change.path)
        else:
            plan.writes.append(change)
    return plan


def _reason_to_leave(change: RawChange, skipped_now: set[str], skipped_then: set[str]) -> str:
    if GITLINK in (change.old_mode, change.new_mode):
        return "a submodule, which checkpoints do not descend into"
    if _under(change.path, skipped_now):
        return "too large (or nested) to keep a safety copy of"
    if _under(change.path, skipped_then):
        return "the checkpoint left it out (too large or nested)"
    return ""


def _under(path: str, folders_or_files: set[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:i]) in folders_or_files for i in range(1, len(parts) + 1))


@dataclass
class AppliedRestore:
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_restored: list[SkippedFile] = field(default_factory=list)


class RestoreWriter:
    """Applies a plan to the work tree under `root`, one atomic rename per file."""

    def __init__(self, root: Path, runner: GitRunner, scratch: Path) -> None:
        self.root = root
        self.runner = runner
        self.scratch = _fresh_scratch(scratch, root)
        self.umask = _current_umask()

    def apply(self, plan: RestorePlan) -> AppliedRestore:
        done = AppliedRestore()
        try:
            # Removals first: a file may give way to a folder of the same name, or back.
            for path in plan.removals:
                self._attempt(done, path, lambda p=path: self._remove(p), done.removed)
            for change in plan.writes:
                self._attempt(done, change.path, lambda c=change: self._write(c), done.restored)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
        return done

    @staticmethod
    def _attempt(done: AppliedRestore, path: str, action, into: list[str]) -> None:
        try:
            action()
            into.append(path)
        except Conflict as conflict:
            done.not_restored.append(SkippedFile(path, str(conflict)))
        except OSError as exc:
            done.not_restored.append(SkippedFile(path, exc.strerror or str(exc)))

    # ---- one file ----------------------------------------------------------------------

    def _write(self, change: RawChange) -> None:
        target = self._checked_path(change.path, create_parents=True)
        existing = _lstat(target)
        if existing and stat.S_ISDIR(existing.st_mode):
            raise Conflict("it is a folder now")
        if change.status == "A" and existing is not None:
            # Not in the safety snapshot yet on disk: ignored, so no checkpoint holds it.
            raise Conflict("it exists and is ignored, so no checkpoint holds its content")
        data = self.runner.blob(change.new_blob)
        if change.new_mode != SYMLINK:
            # No fsync per file (git's checkout does none either): a large restore stays quick,
            # each rename is still atomic, and the safety checkpoint holds what was there.
            permissions = self._permissions(existing, change.new_mode)
            write_atomically(target, data, mode=permissions, scratch=self.scratch, sync=False)
            return
        temporary = (self.scratch or target.parent) / temp_name(target.name)
        try:
            os.symlink(os.fsdecode(data), temporary)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _remove(self, relative: str) -> None:
        target = self._checked_path(relative, create_parents=False)
        info = _lstat(target)
        if info is None:
            return
        if stat.S_ISDIR(info.st_mode):
            raise Conflict("it is a folder now")
        target.unlink()
        _remove_empty_parents(target.parent, self.root)

    def _checked_path(self, relative: str, *, create_parents: bool) -> Path:
        """root/relative, with every folder on the way a real folder (never a symlink)."""
        current = self.root
        parts = relative.split("/")
        for part in parts[:-1]:
            current = current / part
            info = _lstat(current)
            if info is None and create_parents:
                current.mkdir()
            elif info is None:
                return self.root / relative
            elif not stat.S_ISDIR(info.st_mode):
                raise Conflict(f"{current.relative_to(self.root)} on its path is not a folder now")
        return current / parts[-1]

    def _permissions(self, existing: os.stat_result | None, mode: str) -> int:
        if existing is not None and stat.S_ISREG(existing.st_mode):
            bits = stat.S_IMODE(existing.st_mode) & ~0o111
        else:
            bits = 0o666 & ~self.umask
        if mode == EXECUTABLE:
            bits |= (bits & 0o444) >> 2  # executable for whoever may read it
        return bits


def _fresh_scratch(scratch: Path, root: Path) -> Path | None:
    """An empty scratch folder on the work tree's disk, or None (then temp files sit beside)."""
    shutil.rmtree(scratch, ignore_errors=True)  # what a killed restore left
    try:
        scratch.mkdir(parents=True, mode=0o700)
        if scratch.stat().st_dev == root.stat().st_dev:
            return scratch
    except OSError:
        return None
    shutil.rmtree(scratch, ignore_errors=True)
    return None


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.EBUSY):
                return
            raise
        folder = folder.parent
