"""Which files a search looks at: git's view (honouring .gitignore) or a careful walk.

find_files and search_text share this so that they agree about what exists.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nanotui.security.jail.git_runner import GitUnavailable, inside_work_tree, run_git
from nanotui.security.jail.workspace import Workspace

WALK_SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "__pycache__"})
"""Outside a git work tree there is no .gitignore to ask; these are almost never wanted."""


@dataclass(frozen=True)
class FileListing:
    files: list[str]
    """Paths relative to the workspace root, posix, sorted."""
    source: Literal["git", "walk"]


async def list_files(ws: Workspace, base: Path) -> FileListing:
    """Every file under the real folder `base`, as git sees it when it can, else by a walk."""
    if await inside_work_tree(base):
        try:
            return FileListing(await _git_files(ws, base), "git")
        except GitUnavailable:
            pass
    return FileListing(await asyncio.to_thread(_walk_files, ws, base), "walk")


async def _git_files(ws: Workspace, base: Path) -> list[str]:
    out = await run_git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], base)
    if out.returncode != 0:
        raise GitUnavailable(f"git ls-files failed: {out.stderr.strip()}")
    names = {n for n in out.stdout.decode("utf-8", errors="surrogateescape").split("\0") if n}
    return sorted(await asyncio.to_thread(_existing_files, ws, base, names))


def _existing_files(ws: Workspace, base: Path, names: set[str]) -> list[str]:
    found: list[str] = []
    for name in names:
        # Tracked files deleted from disk are still in the index; untracked nested
        # repositories and submodules appear as folders. Neither is a file to look at.
        try:
            mode = os.lstat(base / name).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            found.append(ws.relative(base / name))
    return found


def _walk_files(ws: Workspace, base: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(base, followlinks=False):
        dirs[:] = [d for d in dirs if d not in WALK_SKIPPED_DIRS]
        found.extend(ws.relative(Path(folder) / name) for name in files)
    return sorted(found)
