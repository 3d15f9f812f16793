"""The workspace's credential files, which bwrap hides from every command.

The rule keys on the file, not on the program that reads it: `base64 .env`, `od -c`, a Python
one-liner all read what bwrap binds over each credential file, an unreadable device. The set
is the jail's own (`Workspace.credential_patterns`: `policy.protected_paths` minus the
`.git/` and `.nanotui/` ones), minus what `[sandbox] readable_credentials` passes on purpose.

Found at the start of each command, at any depth (folders where secrets do not live, such
as `.git` and `node_modules`, are skipped): matching files and folders, what a matching
symbolic link points to, wherever it lies (`.env -> ../shared/.env` is how a secret kept
outside the repository is used), and other names (hard links) of a matching file. A folder
that holds the workspace is never hidden (the command would lose its files). A credential
file a command creates is not hidden from later parts of that command.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from nanotui.security.jail.workspace import HARD_LINK_SCAN_SKIPS, Workspace, protected_match

MAX_ENTRIES = 200_000
"""Past this many entries the walk stops; what was found by then is still hidden."""


def credential_files(
    workspace: Path, protected_paths: Sequence[str], readable: Sequence[str] = ()
) -> list[Path]:
    """Real paths of the workspace's credential files and folders a command must not read."""
    root = workspace.resolve()
    patterns = Workspace(root, list(protected_paths)).credential_patterns

    def secret(rel: str) -> bool:
        matched = any(protected_match(p, rel) for p in patterns)
        return matched and not any(protected_match(p, rel) for p in readable)

    found: list[Path] = []
    inodes: set[tuple[int, int]] = set()
    linked: list[tuple[Path, os.stat_result]] = []
    seen = 0
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        kept = []
        for name in dirs:
            rel = (base / name).relative_to(root).as_posix()
            if name in HARD_LINK_SCAN_SKIPS:
                continue
            if not secret(rel):
                kept.append(name)
            elif (target := (base / name).resolve()).is_dir() and not _holds(target, root):
                found.append(target)  # os.walk does not follow a linked folder: no `kept`
        dirs[:] = kept
        for name in files:
            seen += 1
            path = base / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if secret(path.relative_to(root).as_posix()):
                target = path.resolve() if path.is_symlink() else path
                if target.is_file():
                    found.append(target)
                    st = target.stat()
                    inodes.add((st.st_dev, st.st_ino))
            elif st.st_nlink > 1 and not path.is_symlink():
                linked.append((path, st))
        if seen > MAX_ENTRIES:
            break
    found += [path for path, st in linked if (st.st_dev, st.st_ino) in inodes]
    return list(dict.fromkeys(found))


def _holds(folder: Path, workspace: Path) -> bool:
    return folder == workspace or folder in workspace.parents
