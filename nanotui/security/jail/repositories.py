"""Git repositories inside the workspace: found at any depth, and kept harmless after a command.

A repository's config and hooks are programs waiting to run: `core.fsmonitor`, a pager, a
hook... run on the host the moment the user (or a git-aware prompt or editor) runs git
there. So every command runs between two looks at the whole work tree (`scan`): a repository
that was there before has its control files put back (`control_files`), one that appeared
or was replaced is made harmless here (`neutralise_repository`), and a root `.git` that was
moved or swapped for a `gitdir:` file is found and moved back (`bring_back_root`).

The look lists folders, never reads files, and never enters a `.git` folder (the root's
objects included): about 0.1 s for 15,000 folders holding 120,000 files.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

MAX_SCAN_FOLDERS = 200_000
"""Beyond this many folders the look stops, and the result says that it stopped."""
RUNS_ON_ENTRY = frozenset({".envrc"})
"""Files that run code when the user enters their folder (direnv), guarded at any depth."""
MARKER = ".git"


@dataclass
class Scan:
    """What one look at the work tree found, as workspace-relative posix paths."""

    repositories: list[str] = field(default_factory=list)
    """`.git` entries (folders, `gitdir:` files, links) below the root, not the root's own."""
    runs_on_entry: list[str] = field(default_factory=list)
    complete: bool = True
    unlisted: list[str] = field(default_factory=list)
    """Folders that could not be listed (no permission): nothing below them was looked at."""


def scan(workspace: Path, below: str = "") -> Scan:
    """Every nested repository marker and every file in `RUNS_ON_ENTRY`, at any depth; in
    the folder `below` alone when given (relative: its own `.git`, not the root's, counts)."""
    found = Scan()
    base = os.fspath(workspace)
    pending = [below]
    folders = 0
    while pending:
        relative = pending.pop()
        folders += 1
        if folders > MAX_SCAN_FOLDERS:
            found.complete = False
            break
        try:
            entries = os.scandir(f"{base}/{relative}" if relative else base)
        except PermissionError:
            found.unlisted.append(relative or ".")
            continue
        except OSError:
            continue  # gone meanwhile, or no longer a folder
        prefix = f"{relative}/" if relative else ""
        with entries:
            for entry in entries:
                name = entry.name
                if name == MARKER:
                    if relative:
                        found.repositories.append(prefix + name)
                    continue  # never inside a repository's own folder
                try:
                    is_folder = entry.is_dir(follow_symlinks=False)  # no system call
                except OSError:
                    continue
                if is_folder:
                    pending.append(prefix + name)
                elif name in RUNS_ON_ENTRY:
                    found.runs_on_entry.append(prefix + name)
    found.repositories.sort()
    found.runs_on_entry.sort()
    found.unlisted.sort()
    return found


def gitdir_of(workspace: Path, marker: str) -> str | None:
    """The workspace-relative folder git uses for the `.git` entry `marker`, or None when it
    is not a folder inside the workspace (a `gitdir:` file or a link may point anywhere)."""
    path = workspace / marker
    try:
        if path.is_symlink():
            target = path.resolve()
        elif path.is_dir():
            return marker
        elif path.is_file():
            line = path.read_text(errors="replace").strip()
            if not line.startswith("gitdir:"):
                return None
            target = (path.parent / line[len("gitdir:") :].strip()).resolve()
        else:
            return None
        relative = target.relative_to(workspace.resolve())
    except (OSError, ValueError, RuntimeError):
        return None
    if not target.is_dir() or target.is_symlink():
        return None
    return relative.as_posix() if str(relative) != "." else None


def identity(path: Path) -> bytes:
    """Which folder this is (device and inode), to tell a moved or swapped `.git` apart."""
    info = path.lstat()
    return f"{info.st_dev}:{info.st_ino}".encode()


def find_folder(workspace: Path, wanted: bytes, hint: str | None = None) -> Path | None:
    """The folder below the workspace whose `identity` is `wanted` (where a command moved
    the root `.git`), looking at `hint` first; None when it is gone."""
    if hint is not None:
        candidate = workspace / hint
        if _is(candidate, wanted):
            return candidate
    pending = [workspace]
    folders = 0
    while pending and folders < MAX_SCAN_FOLDERS:
        folder = pending.pop()
        folders += 1
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if str(entry.inode()).encode() == wanted.split(b":")[-1] and _is(
                    Path(entry.path), wanted
                ):
                    return Path(entry.path)
            except OSError:
                continue
            if not (folder == workspace and entry.name == MARKER):
                pending.append(Path(entry.path))
    return None


def _is(path: Path, wanted: bytes) -> bool:
    try:
        return not path.is_symlink() and path.is_dir() and identity(path) == wanted
    except OSError:
        return False


def bring_back_root(workspace: Path, original: Path) -> list[str]:
    """Move the user's repository folder `original` back to `.git`; what stood there (a
    `gitdir:` file, a link, a folder the command made) is removed or, a folder, set aside and
    made harmless. Returns what was done, as phrases."""
    done = [f"moved the repository back from {os.path.relpath(original, workspace)} to .git"]
    root = workspace / MARKER
    aside: Path | None = None
    if root.is_dir() and not root.is_symlink():
        aside = _free_name(workspace, ".git-made-by-command")
        os.rename(root, aside)
    elif os.path.lexists(root):
        root.unlink()
    os.rename(original, root)
    if aside is not None:
        done.append(f"set the command's own .git aside as {aside.name}")
        done += neutralise_repository(workspace, aside, guarded=[root])
    return done


def _free_name(workspace: Path, stem: str) -> Path:
    for number in range(1, 1000):
        candidate = workspace / (stem if number == 1 else f"{stem}-{number}")
        if not os.path.lexists(candidate):
            return candidate
    raise OSError(f"no free name for {stem} in the workspace")


# Config keys and sections that make git run a program or read another file.
_RISKY_CONFIG = re.compile(
    r"^\s*(?:fsmonitor|hookspath|pager|editor|sshcommand|askpass|textconv|external|program"
    r"|command|gitproxy|helper|path|worktree|clean|smudge|process|driver)\s*="
    r"|^\s*\[\s*(?:alias|include|includeif|filter|credential)\b",
    re.IGNORECASE | re.MULTILINE,
)
SAFE_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
MAX_NEUTRALISED = 1000


def neutralise_repository(
    workspace: Path, gitdir: Path, guarded: Collection[Path] = ()
) -> list[str]:
    """Make a repository the command made harmless to run git in: no active hooks and no
    config that runs programs, in it, its submodules and worktrees, and the folder its
    `commondir` names unless that is one of the `guarded` repositories (put back instead).
    Returns what was done, as phrases."""
    done: list[str] = []
    seen: set[Path] = set()
    for folder in _gitdirs_within(gitdir):
        common = _commondir(workspace, folder)
        for target in (folder, common):
            if target is None or target in seen or _is_guarded(target, guarded):
                continue
            seen.add(target)
            done += _neutralise_one(workspace, target)
    return done


def _is_guarded(folder: Path, guarded: Collection[Path]) -> bool:
    return any(folder == g or g in folder.parents for g in guarded)


def _gitdirs_within(gitdir: Path) -> list[Path]:
    """`gitdir` and the git folders of its submodules and worktrees, at any depth."""
    found = [gitdir]
    pending = [gitdir / "modules", gitdir / "worktrees"]
    while pending and len(found) < MAX_NEUTRALISED:
        folder = pending.pop()
        if folder.is_symlink() or not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if child.is_symlink() or not child.is_dir():
                continue
            if any(os.path.lexists(child / name) for name in ("HEAD", "config", "hooks")):
                found.append(child)
                pending += [child / "modules", child / "worktrees"]
            else:
                pending.append(child)  # `modules/a/b`: a submodule named `a/b`
    return found


def _commondir(workspace: Path, gitdir: Path) -> Path | None:
    """The folder `gitdir/commondir` names, when it is inside the workspace."""
    try:
        text = (gitdir / "commondir").read_text(errors="replace").strip()
        target = (gitdir / text).resolve()
        target.relative_to(workspace.resolve())
    except (OSError, ValueError, RuntimeError):
        return None
    return target if target.is_dir() else None


def _neutralise_one(workspace: Path, gitdir: Path) -> list[str]:
    done: list[str] = []
    shown = os.path.relpath(gitdir, workspace)
    hooks = gitdir / "hooks"
    if hooks.is_symlink():
        hooks.unlink()
        done.append(f"removed the linked hooks folder {shown}/hooks")
    elif hooks.is_dir():
        for hook in sorted(hooks.iterdir()):
            if not hook.name.endswith(".sample") or hook.is_symlink() or hook.is_dir():
                _remove(hook)
                done.append(f"removed the hook {shown}/hooks/{hook.name}")
    for name in ("config", "config.worktree"):
        config = gitdir / name
        if not os.path.lexists(config):
            continue
        try:
            text = config.read_text(errors="replace") if not config.is_symlink() else "[alias]"
        except OSError:
            text = "[alias]"  # unreadable: treated as the worst
        if _RISKY_CONFIG.search(text):
            _remove(config)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with os.fdopen(os.open(config, flags, 0o644), "w") as handle:
                handle.write(SAFE_CONFIG if name == "config" else "")
            done.append(f"reset {shown}/{name}, which could run programs")
    commondir = gitdir / "commondir"
    if os.path.lexists(commondir) and _commondir(workspace, gitdir) is None:
        # It hands git a config outside the workspace, which nothing here has looked at.
        _remove(commondir)
        done.append(f"removed {shown}/commondir, which pointed outside the workspace")
    return done


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)
