"""Files that make programs run later, outside the sandbox, kept as they were around a command.

A command may write the workspace, but a few files there are instructions to other programs:
git hooks, git's config (`core.fsmonitor`, `core.pager`, ... run programs), the files that
point git at another config (`.git/commondir`, `config.worktree`), the same inside
submodules and worktrees, and nanotui's own project folder `.nanotui`. Written by a command,
they would run code on the host the next time the user (or their editor) runs git.

bwrap mounts the existing ones read-only, but cannot cover a file that does not exist yet,
and Landlock cannot carve exceptions out of a writable folder. So every command runs between
two looks at these files: whatever it created, changed or removed among them is put back,
and the result says so.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

# Whole folders, and single files, relative to the workspace.
GUARDED_TREES = (".nanotui", ".git/hooks")
GUARDED_FILES = (".git/config", ".git/commondir", ".git/config.worktree")
# Inside .git/modules/<name>/ and .git/worktrees/<name>/, at any depth: the same roles.
NESTED_FILES = {"config", "commondir", "config.worktree"}
NESTED_TREES = {"hooks"}
NESTED_ROOTS = (".git/modules", ".git/worktrees")
SKIPPED_IN_NESTED = {"objects", "refs", "logs", "lfs"}
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """What was at a path: a file (its bytes and mode), a folder, or a symbolic link."""

    kind: str
    data: bytes = b""
    mode: int = 0o644


Snapshot = dict[str, Entry]


def _entry(path: Path) -> Entry | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return Entry("link", os.readlink(path).encode())
    if stat.S_ISDIR(info.st_mode):
        return Entry("dir", mode=stat.S_IMODE(info.st_mode))
    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
        with open(path, "rb", opener=_no_follow) as handle:
            return Entry("file", handle.read(), stat.S_IMODE(info.st_mode))
    return Entry("other", str(info.st_size).encode())


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _walk(root: Path, relative: str, into: Snapshot, skip: set[str] = frozenset()) -> None:
    """Record `relative` and, for a real folder (never a link), everything below it."""
    entry = _entry(root / relative)
    if entry is None:
        return
    into[relative] = entry
    if entry.kind != "dir":
        return
    try:
        names = sorted(os.listdir(root / relative))
    except OSError:
        return
    for name in names:
        if name not in skip:
            _walk(root, f"{relative}/{name}", into, skip)


def _nested(root: Path, relative: str, into: Snapshot) -> None:
    """Config files and hooks of submodules and worktrees, however deep they nest."""
    folder = root / relative
    if folder.is_symlink() or not folder.is_dir():
        return
    for name in sorted(os.listdir(folder)):
        child = f"{relative}/{name}"
        if name in NESTED_FILES or name in NESTED_TREES:
            _walk(root, child, into)
        elif name not in SKIPPED_IN_NESTED and (root / child).is_dir():
            _nested(root, child, into)


def take(workspace: Path) -> Snapshot:
    """The guarded files as they are now."""
    snapshot: Snapshot = {}
    git = _entry(workspace / ".git")
    if git is not None:
        snapshot[".git"] = Entry(git.kind, mode=git.mode)  # there or not; not its contents
    for relative in GUARDED_TREES + GUARDED_FILES:
        _walk(workspace, relative, snapshot)
    for relative in NESTED_ROOTS:
        _nested(workspace, relative, snapshot)
    return snapshot


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """Guarded paths that were created, changed or removed, in order.

    A repository the command made (`git init` where there was none) keeps its new config
    and sample hooks; an active hook in it is still a change.
    """
    paths = [p for p in before.keys() | after.keys() if before.get(p) != after.get(p)]
    if ".git" not in before:
        fresh = {".git", ".git/config", ".git/hooks"}
        paths = [p for p in paths if p not in fresh and not p.endswith(".sample")]
    return sorted(paths)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _parents_are_real(workspace: Path, relative: str) -> bool:
    """Whether every folder on the way to `relative` is a real folder, not a link."""
    current = workspace
    for part in Path(relative).parts[:-1]:
        current = current / part
        if current.is_symlink() or not current.is_dir():
            return False
    return True


def put_back(workspace: Path, before: Snapshot, paths: list[str]) -> list[str]:
    """Restore `paths` to how `before` had them; returns those that could not be."""
    failed: list[str] = []
    # Removals deepest first, then restorations shallowest first (folders before files).
    for relative in sorted(paths, key=lambda p: p.count("/"), reverse=True):
        if relative not in before:
            try:
                if _parents_are_real(workspace, relative):
                    _remove(workspace / relative)
            except OSError:
                failed.append(relative)
    for relative in sorted(paths, key=lambda p: p.count("/")):
        entry = before.get(relative)
        if entry is None:
            continue
        target = workspace / relative
        try:
            if not _parents_are_real(workspace, relative):
                failed.append(relative)
                continue
            if target.is_symlink() or target.exists():
                if entry.kind == "dir" and target.is_dir() and not target.is_symlink():
                    os.chmod(target, entry.mode)
                    continue
                _remove(target)
            if entry.kind == "dir":
                target.mkdir(mode=entry.mode)
            elif entry.kind == "link":
                os.symlink(entry.data.decode(), target)
            elif entry.kind == "file":
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                descriptor = os.open(target, flags, entry.mode)
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(entry.data)
            else:
                failed.append(relative)  # a device or a huge file: seen, not kept
        except OSError:
            failed.append(relative)
    return failed


def notice(paths: list[str], failed: list[str]) -> str:
    """One sentence for the command's result."""
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    if failed:
        return (
            f"The command changed {shown}, which can make programs run outside the sandbox; "
            f"{', '.join(failed[:5])} could not be put back: check them before running git."
        )
    return (
        f"The command changed {shown}, which can make programs run outside the sandbox; "
        "it was put back as it was."
    )
