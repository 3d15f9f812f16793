"""Files that make programs run later, outside the sandbox, kept as they were around a command.

A command may write the workspace, but a few files there are instructions to other programs:
git hooks, git's config (`core.fsmonitor`, `core.pager`, ... run programs), the files that
point git at another config (`.git/commondir`, `config.worktree`), the same inside
submodules and worktrees, the same in every repository nested in the work tree, direnv's
`.envrc` at any depth (`repositories.RUNS_ON_ENTRY`), and nanotui's own project folder
`.nanotui`. Written by a command, they would run code on the host the next time the user
(or their editor, or their shell's prompt) runs git or enters the folder.

bwrap mounts the existing ones read-only, but cannot cover a file that does not exist yet,
and Landlock cannot carve exceptions out of a writable folder. So every command runs between
two looks at these files: whatever it created, changed or removed among them is put back,
and the result says so.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from nanotui.security.jail import repositories

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
        return Entry("link", os.fsencode(os.readlink(path)))
    if stat.S_ISDIR(info.st_mode):
        return Entry("dir", mode=stat.S_IMODE(info.st_mode))
    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
        with open(path, "rb", opener=_no_follow) as handle:
            return Entry("file", handle.read(), stat.S_IMODE(info.st_mode))
    return Entry("other", str(info.st_size).encode())


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


MAX_ENTRIES = 5000
MAX_DEPTH = 32


def _walk(root: Path, relative: str, into: Snapshot, skip: frozenset[str] = frozenset()) -> None:
    """Record `relative` and, for a real folder (never a link), everything below it.

    Iterative and bounded: a folder nested thousands deep or holding thousands of files is
    recorded as `too_many`, which never equals what was there before, so it is put back whole.
    """
    pending = [(relative, 0)]
    counted = 0
    while pending:
        current, depth = pending.pop()
        entry = _entry(root / current)
        if entry is None:
            continue
        counted += 1
        if counted > MAX_ENTRIES or depth > MAX_DEPTH:
            into[relative] = Entry("too_many")
            for key in [k for k in into if k.startswith(relative + "/")]:
                del into[key]
            return
        into[current] = entry
        if entry.kind != "dir":
            continue
        try:
            names = sorted(os.listdir(root / current))
        except OSError:
            into[current] = Entry("unreadable")
            continue
        pending += [(f"{current}/{name}", depth + 1) for name in names if name not in skip]


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


UNREADABLE = "\0unreadable"
"""The key that says the guarded files could not be read (no path can hold a NUL byte)."""
INCOMPLETE = "\0incomplete"
"""The key that says the look for nested repositories stopped before the end."""
MARKERS = "\0markers"
"""The key that lists the `.git` entries recorded, one a line."""
UNLISTED = "\0unlisted"
"""The key that lists the folders the look could not list (no permission), each with its
inode and modification and change times (`unlisted`)."""
ROOT = ".git"
SUMMARIES = (INCOMPLETE, MARKERS, UNLISTED, UNREADABLE)
"""Keys that say what the look found, not files to put back."""


def hooks_folders(workspace: Path, found: repositories.Scan | None = None) -> tuple[str, ...]:
    """Folders that `core.hooksPath` names now, in the root's config and in each nested
    repository's. Read once before a command and passed to both looks: read again
    afterwards, a command could point it at `src` and have `src` reverted."""
    folders = _hooks_paths(workspace, "")
    for marker in found.repositories if found else ():
        folders += _hooks_paths(workspace, marker.rsplit("/", 1)[0])
    return tuple(dict.fromkeys(folders))


def take(
    workspace: Path, hooks: tuple[str, ...] = (), found: repositories.Scan | None = None
) -> Snapshot:
    """The guarded files as they are now; never raises (what cannot be read is recorded so).

    These are the root repository's control files, `.nanotui`, every file in
    `repositories.RUNS_ON_ENTRY` at any depth, and the control files of every repository
    nested in the work tree (`found`, looked for now when not given).
    """
    snapshot: Snapshot = {}
    try:
        _marker(workspace, ROOT, snapshot)
        trees = GUARDED_TREES + hooks
        for relative in trees + GUARDED_FILES:
            _walk(workspace, relative, snapshot)
        for relative in NESTED_ROOTS:
            _nested(workspace, relative, snapshot)
        found = found or repositories.scan(workspace)
        for relative in found.runs_on_entry:
            _walk(workspace, relative, snapshot)
        for marker in found.repositories:
            if not any(marker.startswith(tree + "/") for tree in trees):  # listed whole above
                _repository(workspace, marker, snapshot)
        if not found.complete:
            snapshot[INCOMPLETE] = Entry("too_many")
        if found.unlisted:
            snapshot[UNLISTED] = Entry("unlisted", _stamped(workspace, found.unlisted))
        listed = [m for m in (ROOT, *found.repositories) if m in snapshot]
        snapshot[MARKERS] = Entry("markers", os.fsencode("\n".join(listed)))
    except (OSError, ValueError, RecursionError):
        snapshot[UNREADABLE] = Entry("unreadable")
    return snapshot


def _marker(workspace: Path, marker: str, into: Snapshot) -> None:
    """A `.git` entry: a folder by its identity (not its contents), a file or link whole."""
    entry = _entry(workspace / marker)
    if entry is None:
        return
    if entry.kind == "dir":
        entry = Entry("dir", repositories.identity(workspace / marker), entry.mode)
    into[marker] = entry


def _repository(workspace: Path, marker: str, into: Snapshot) -> None:
    """A nested repository's `.git` entry and, where it leads inside the workspace (but not
    into the root's `.git`, looked at already), the same control files as the root's."""
    _marker(workspace, marker, into)
    gitdir = repositories.gitdir_of(workspace, marker)
    if gitdir is None or gitdir == ROOT or gitdir.startswith(ROOT + "/"):
        return
    for name in (*NESTED_FILES, *NESTED_TREES):
        _walk(workspace, f"{gitdir}/{name}", into)
    for name in NESTED_ROOTS:
        _nested(workspace, f"{gitdir}/{name.removeprefix(ROOT + '/')}", into)


def markers(snapshot: Snapshot) -> list[str]:
    """The `.git` entries a snapshot recorded: the root's and every nested repository's."""
    listed = snapshot.get(MARKERS)
    return os.fsdecode(listed.data).split("\n") if listed and listed.data else []


def made_or_replaced(before: Snapshot, after: Snapshot) -> list[str]:
    """`.git` entries that appeared, or stand where another was (a new folder, a file where
    a folder was): repositories the command made, made harmless rather than put back."""
    found = []
    for marker in markers(after):
        old, new = before.get(marker), after[marker]
        same = (
            old is not None and old.kind == new.kind and (new.kind != "dir" or old.data == new.data)
        )
        if not same:
            found.append(marker)
    return found


_HOOKS_PATH = re.compile(r"^\s*hookspath\s*=\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def _hooks_paths(workspace: Path, repository: str) -> list[str]:
    """Folders inside the workspace that `core.hooksPath` names in the config of the
    repository whose work tree is `repository` (husky's `.husky`, ...)."""
    base = workspace / repository if repository else workspace
    try:
        text = (base / ROOT / "config").read_text(errors="replace")
    except OSError:
        return []
    found = []
    for value in _HOOKS_PATH.findall(text):
        value = value.strip("\"'")
        try:
            if os.path.isabs(value):
                relative = str(Path(value).resolve().relative_to(workspace.resolve()))
            else:
                relative = os.path.relpath(os.path.normpath(base / value), workspace)
        except (ValueError, OSError, RuntimeError):
            continue
        if relative != "." and not relative.startswith(".."):
            found.append(Path(relative).as_posix())
    return found


def unlisted(snapshot: Snapshot) -> dict[str, str]:
    """The folders the look that took `snapshot` could not list, each with when its entries
    last changed (a command can plant something in one it cannot list, or list only a
    moment: its modification and change times move either way)."""
    entry = snapshot.get(UNLISTED)
    fields = os.fsdecode(entry.data).split("\0") if entry and entry.data else []
    return dict(zip(fields[::2], fields[1::2], strict=True))


def _stamped(workspace: Path, folders: list[str]) -> bytes:
    """NUL-separated (no path holds one): folder, stamp, folder, stamp..."""
    fields = []
    for folder in folders:
        try:
            info = os.lstat(workspace / folder)
            stamp = f"{info.st_ino}:{info.st_mtime_ns}:{info.st_ctime_ns}"
        except OSError:
            stamp = "gone"
        fields += [folder, stamp]
    return os.fsencode("\0".join(fields))


def changed(before: Snapshot, after: Snapshot, apart: Collection[str] = ()) -> list[str]:
    """Guarded paths that were created, changed or removed, in order, leaving out those at
    or under the paths `apart` (repositories made or removed: not put back, see `Guard`)."""
    paths = [p for p in before.keys() | after.keys() if before.get(p) != after.get(p)]
    paths = [p for p in paths if p not in SUMMARIES and not _under_any(p, apart)]
    return sorted(paths)


def _under_any(path: str, folders: Collection[str]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)


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


def put_back(
    workspace: Path, before: Snapshot, paths: list[str], after: Snapshot | None = None
) -> list[str]:
    """Restore `paths` to how `before` had them; returns those that could not be.

    A folder that `after` could not list whole (too many entries, unreadable) is removed and
    made again from `before`, so nothing planted among what was not listed stays.
    """
    failed: list[str] = []
    if UNREADABLE in (after or {}):
        return ["(the guarded files could not be read)"]
    git_before = before.get(ROOT)
    git_after = after.get(ROOT, Entry("missing")) if after is not None else git_before
    paths = list(paths)
    if git_before is not None and git_before.kind == "dir" and git_after.kind != "dir":
        # `.git` gone, or a file or link where it was, and not found to move back (`Guard`):
        # rebuilding part of it would leave a broken repository that git walks up from;
        # remove the stand-in and say so.
        stand_in = workspace / ROOT
        if stand_in.is_symlink() or stand_in.is_file():
            stand_in.unlink()
        failed.append(".git (the repository was moved or replaced; put it back by hand)")
        paths = [p for p in paths if not _under_any(p, [ROOT])]
    for relative, entry in (after or {}).items():
        if relative in SUMMARIES:
            continue  # what the look found, not a path
        if entry.kind in ("too_many", "unreadable") and relative in before:
            try:
                if _parents_are_real(workspace, relative):
                    _remove(workspace / relative)
            except OSError:
                failed.append(relative)
            paths += [p for p in before if p == relative or p.startswith(relative + "/")]
    paths = sorted(set(paths))
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
                os.symlink(os.fsdecode(entry.data), target)
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


def some_of(paths: list[str], most: int = 5) -> str:
    """`paths` for a sentence: the first `most`, and how many more."""
    shown = ", ".join(paths[:most])
    return shown if len(paths) <= most else f"{shown} and {len(paths) - most} more"


def notice(paths: list[str], failed: list[str]) -> str:
    """One sentence for the command's result."""
    shown = some_of(paths)
    if failed:
        return (
            f"The command changed {shown}, which can make programs run outside the sandbox; "
            f"{', '.join(failed[:5])} could not be put back: check them before running git."
        )
    return (
        f"The command changed {shown}, which can make programs run outside the sandbox; "
        "it was put back as it was."
    )
