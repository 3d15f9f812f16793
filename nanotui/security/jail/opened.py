"""Handles on what the jail checked: a file opened for reading, a folder held for a write.

A tool reads from the descriptor the jail checked, and writes by name only inside a folder
descriptor the jail checked, so that nothing between the check and the use can redirect it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class PathRefused(Exception):
    """A path was refused by the jail; the message says which path and why, in one sentence."""


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
"""O_NONBLOCK: a FIFO swapped in after the check cannot hang the open; fstat then refuses it."""


@dataclass
class OpenedFile:
    """A regular file or folder the jail checked and opened for reading; close it after use."""

    fd: int
    path: Path
    """The real path the descriptor was reached by (no symlinks in it)."""
    st: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    def reader(self) -> BinaryIO:
        """A buffered reader from the start of the file; closing it leaves the descriptor open."""
        os.lseek(self.fd, 0, os.SEEK_SET)
        return os.fdopen(self.fd, "rb", closefd=False)

    def read_bytes(self) -> bytes:
        with self.reader() as handle:
            return handle.read()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass
class WriteTarget:
    """The checked folder a write goes into, held open, and the name written there."""

    folder_fd: int
    """Held with O_PATH: usable as dir_fd for openat, renameat and unlinkat."""
    name: str
    path: Path
    """The real path of the target, for messages."""
    shown: str
    """The path as the model sees it."""

    def exists(self) -> bool:
        try:
            os.stat(self.name, dir_fd=self.folder_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read_current(self) -> tuple[bytes, int] | None:
        """The file's bytes and permission bits now, or None when it does not exist."""
        try:
            fd = os.open(self.name, _READ_FLAGS, dir_fd=self.folder_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PathRefused(
                    f"Writing '{self.shown}' is refused: it became a symlink; nanotui does not "
                    "write through links."
                ) from exc
            raise
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(fd)
            refuse_for_write(self.shown, st)
            return handle.read(), stat.S_IMODE(st.st_mode)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.folder_fd)

    def __enter__(self) -> WriteTarget:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_checked_for_read(
    shown: str, folder_fd: int, name: str | None, held: os.stat_result
) -> int:
    """Open for reading the component held by the walk, and prove it is the same inode.

    The walk holds the last component with O_PATH and judged that; reading needs a second
    open by name, so the identity check makes sure that open reached the same file.
    """
    flags = _READ_FLAGS | (os.O_DIRECTORY if stat.S_ISDIR(held.st_mode) else 0)
    fd = os.open(name or ".", flags, dir_fd=folder_fd)
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (held.st_dev, held.st_ino):
        os.close(fd)
        raise PathRefused(f"'{shown}' is refused: it changed while being opened; try again.")
    return fd


def refuse_special(shown: str, st: os.stat_result) -> None:
    """Refuse all but regular files and folders: FIFOs hang, devices and sockets are no data."""
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise PathRefused(
            f"'{shown}' is refused: it is a {_kind_name(st.st_mode)}, not a file or directory."
        )


def refuse_for_write(shown: str, st: os.stat_result) -> None:
    """Refuse to replace a folder, a special file, or a file that shares its content."""
    refuse_special(shown, st)
    if stat.S_ISDIR(st.st_mode):
        raise PathRefused(f"Writing '{shown}' is refused: it is a directory.")
    if st.st_nlink > 1:
        raise PathRefused(
            f"Writing '{shown}' is refused: it has {st.st_nlink} hard links, so other "
            "names (maybe outside the workspace) share its content."
        )


def _kind_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "special file"
