"""Replacing a file atomically: a temp file beside it, fsync, rename over it, permissions kept.

A reader (or a crash) sees the old content or the new, never half of either. Every layer
writes files this way, so this lives on the ground floor and uses the standard library only.
The temp names all end in `.nanotui-<hex>.tmp`, which the watcher of outside changes knows
to be nanotui's own (TEMP_NAME).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

TEMP_NAME = re.compile(r"\.nanotui-[0-9a-f]+\.tmp$")
"""Matches every temp name `temp_name` makes."""

# O_EXCL | O_NOFOLLOW: the temp name is ours alone and never a planted link.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def temp_name(name: str) -> str:
    """A fresh temp name for replacing `name`: `.name.nanotui-<hex>.tmp`."""
    suffix = f".nanotui-{secrets.token_hex(6)}.tmp"
    # A name near the 255-byte limit leaves no room to repeat it in the temp name.
    if len(os.fsencode(name)) > 200:
        return suffix
    return f".{name}{suffix}"


def write_at(
    folder: int,
    name: str,
    data: bytes,
    *,
    mode: int | None = None,
    new_file_mode: int = 0o666,
    scratch: int | None = None,
    sync: bool = True,
) -> None:
    """Replace `name` in the folder held open as `folder` with `data`.

    `mode` None keeps the replaced file's permissions, and a new file gets `new_file_mode`
    less the umask. The temp file sits in `scratch` when given (a folder on the same disk),
    else beside the target. `sync` False skips both fsyncs, for many files restored at once.
    """
    temp_folder = folder if scratch is None else scratch
    if mode is None:
        mode = _regular_file_mode(folder, name)
    temp = temp_name(name)
    fd = os.open(temp, _CREATE, new_file_mode if mode is None else 0o600, dir_fd=temp_folder)
    try:
        try:
            _write_all(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        # Renaming replaces the name in the folder; it never writes through a link there.
        os.replace(temp, name, src_dir_fd=temp_folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=temp_folder)
        raise
    if sync:
        fsync_folder(folder)


def write_atomically(
    path: Path,
    data: bytes | str,
    *,
    mode: int | None = None,
    scratch: Path | None = None,
    sync: bool = True,
) -> None:
    """Replace the file at `path` with `data` (text is written as UTF-8); see `write_at`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = os.open(path.parent, _FOLDER)
    try:
        scratch_fd = os.open(scratch, _FOLDER) if scratch is not None else None
        try:
            write_at(folder, path.name, raw, mode=mode, scratch=scratch_fd, sync=sync)
        finally:
            if scratch_fd is not None:
                os.close(scratch_fd)
    finally:
        os.close(folder)


def copy_atomically(source: Path, target: Path) -> None:
    """Replace `target` with a copy of `source`, its times kept (git compares them)."""
    temp = target.parent / temp_name(target.name)
    try:
        shutil.copy2(source, temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def fsync_folder(folder: int) -> None:
    """Make a rename in `folder` durable; some file systems refuse, which is harmless."""
    # The folder may be held as O_PATH, which cannot be fsynced, so it is opened from it.
    with contextlib.suppress(OSError):
        fd = os.open(".", _FOLDER, dir_fd=folder)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _regular_file_mode(folder: int, name: str) -> int | None:
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
