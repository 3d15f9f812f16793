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
import re
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


def hooks_folders(workspace: Path) -> tuple[str, ...]:
    """Folders that `core.hooksPath` names now. Read once before a command and passed to both
    looks: read again afterwards, a command could point it at `src` and have `src` reverted."""
    return tuple(_hooks_paths(workspace))


def take(workspace: Path, hooks: tuple[str, ...] = ()) -> Snapshot:
    """The guarded files as they are now; never raises (what cannot be read is recorded so)."""
    snapshot: Snapshot = {}
    try:
        git = _entry(workspace / ".git")
        if git is not None:
            snapshot[".git"] = Entry(git.kind, mode=git.mode)  # there or not; not its contents
        trees = GUARDED_TREES + hooks
        for relative in trees + GUARDED_FILES:
            _walk(workspace, relative, snapshot)
        for relative in NESTED_ROOTS:
            _nested(workspace, relative, snapshot)
    except (OSError, ValueError, RecursionError):
        snapshot[UNREADABLE] = Entry("unreadable")
    return snapshot


_HOOKS_PATH = re.compile(r"^\s*hookspath\s*=\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def _hooks_paths(workspace: Path) -> list[str]:
    """Folders inside the workspace that `core.hooksPath` names (husky's `.husky`, ...)."""
    try:
        text = (workspace / ".git" / "config").read_text(errors="replace")
    except OSError:
        return []
    found = []
    for value in _HOOKS_PATH.findall(text):
        value = value.strip("\"'")
        relative = os.path.normpath(value) if not os.path.isabs(value) else None
        if os.path.isabs(value):
            try:
                relative = str(Path(value).resolve().relative_to(workspace.resolve()))
            except ValueError:
                relative = None
        if relative and not relative.startswith(".."):
            found.append(relative)
    return found


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
    git_before = before.get(".git")
    git_after = after.get(".git", Entry("missing")) if after is not None else git_before
    if git_before is not None and git_before.kind == "dir" and git_after.kind != "dir":
        # `.git` moved away or swapped for a file or link: rebuilding part of it would leave a
        # broken repository that git walks up from; remove the stand-in and say so.
        stand_in = workspace / ".git"
        if stand_in.is_symlink() or stand_in.is_file():
            stand_in.unlink()
        return [".git (the repository was moved or replaced; put it back by hand)"]
    paths = list(paths)
    for relative, entry in (after or {}).items():
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


# Config keys and sections that make git run a program or read another file.
_RISKY_CONFIG = re.compile(
    r"^\s*(?:fsmonitor|hookspath|pager|editor|sshcommand|askpass|textconv|external|program"
    r"|command|gitproxy|helper|path|worktree|clean|smudge|process|driver)\s*="
    r"|^\s*\[\s*(?:alias|include|includeif|filter|credential)\b",
    re.IGNORECASE | re.MULTILINE,
)
SAFE_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
REPO_SCAN_SKIPS = {".git", "node_modules", ".venv", "venv", "__pycache__", "target", ".tox"}
MAX_REPO_SCAN_FOLDERS = 20_000


def neutralise_repository(workspace: Path, gitdir: Path) -> list[str]:
    """Make a repository the command made harmless to run git in: no active hooks, and no
    config that runs programs. Returns what was done, as workspace-relative phrases."""
    done: list[str] = []
    shown = os.path.relpath(gitdir, workspace)
    hooks = gitdir / "hooks"
    if hooks.is_dir() and not hooks.is_symlink():
        for hook in sorted(hooks.iterdir()):
            if not hook.name.endswith(".sample"):
                _remove(hook)
                done.append(f"removed the hook {shown}/hooks/{hook.name}")
    elif hooks.is_symlink():
        hooks.unlink()
        done.append(f"removed the linked hooks folder {shown}/hooks")
    config = gitdir / "config"
    try:
        text = config.read_text(errors="replace") if not config.is_symlink() else "[alias]"
    except OSError:
        text = ""
    if _RISKY_CONFIG.search(text):
        _remove(config)
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(SAFE_CONFIG)
        done.append(f"reset {shown}/config, which could run programs")
    return done


def index_mark(workspace: Path) -> tuple[int, int] | None:
    """The root repository's index, by size and time: a command that registered a nested
    repository (`git add sub`) changed it, and only then is the slower scan needed."""
    try:
        info = (workspace / ".git" / "index").lstat()
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def new_repositories(workspace: Path, since_ns: int) -> list[Path]:
    """Git folders below the workspace root changed since `since_ns`: repositories a command
    made or touched, whose config the user's next git command there would obey."""
    found: list[Path] = []
    for folders, (folder, dirs, files) in enumerate(os.walk(workspace)):
        if folders >= MAX_REPO_SCAN_FOLDERS:
            break
        here = Path(folder)
        if ".git" in dirs or ".git" in files:
            candidate = here / ".git"
            if here != workspace and _changed_since(candidate, since_ns):
                found.append(_gitdir_of(candidate, workspace) or candidate)
        dirs[:] = [d for d in dirs if d not in REPO_SCAN_SKIPS]
    return found


def _changed_since(path: Path, since_ns: int) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return max(info.st_ctime_ns, info.st_mtime_ns) >= since_ns


def _gitdir_of(dot_git: Path, workspace: Path) -> Path | None:
    """Where a `.git` file (`gitdir: PATH`) points, if that is a folder in the workspace."""
    if dot_git.is_symlink() or not dot_git.is_file():
        return None
    try:
        line = dot_git.read_text(errors="replace").strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    target = (dot_git.parent / line[len("gitdir:") :].strip()).resolve()
    if target.is_dir() and (target == workspace or workspace.resolve() in target.parents):
        return target
    return None


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
