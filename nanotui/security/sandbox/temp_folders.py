"""The Landlock backend's private temp folder for each command (TMPDIR), kept for the next.

Making and removing a folder cost 0.1 ms of every command, so one the command left as it was
made goes to the next command instead: empty, and with nothing else about it changed that
the next command would notice or that would let anyone else in. The owner of a folder may
change more than its entries: its mode (to let others in), its group, its extended
attributes (a default ACL, inherited by what the next command makes there) and, as root,
its inode flags (`chattr +i`, and every later command could write nothing there). So each
folder's fingerprint of those is taken when it is made and compared when it comes back;
a folder whose fingerprint changed, or cannot be read, is removed. The commands share the
workspace anyway: a kept folder tells the next command nothing a new one would not.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import tempfile
import weakref
from pathlib import Path

FS_IOC_GETFLAGS = 0x80006601 | (struct.calcsize("l") << 16)
"""_IOR('f', 1, long): a file's inode flags, as `lsattr` shows them."""
Fingerprint = tuple[int, int, int, tuple[tuple[str, bytes], ...], bytes | None]


class TempFolders:
    """Each command's temp folder: one kept from an earlier command when there is one."""

    KEEP = 4
    """At most this many kept (commands may run side by side)."""

    def __init__(self) -> None:
        self.kept: list[Path] = []
        self.made: dict[Path, Fingerprint | None] = {}
        """Each folder in use or kept, with its fingerprint when it was made."""
        weakref.finalize(self, _remove_all, self.kept)

    def take(self) -> Path:
        if self.kept:
            return self.kept.pop()
        temp = Path(tempfile.mkdtemp(prefix="nanotui-cmd-"))
        self.made[temp] = fingerprint(temp)
        return temp

    def give_back(self, temp: Path) -> None:
        made = self.made.get(temp)
        if len(self.kept) < self.KEEP and made is not None and _unchanged(temp, made):
            self.kept.append(temp)
        else:
            self.made.pop(temp, None)
            remove_temp(temp)


def fingerprint(folder: Path) -> Fingerprint | None:
    """The folder's mode, owner, group, extended attributes and inode flags (None for flags
    where the filesystem keeps none); None when it cannot be read or is not a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        attributes = tuple((name, os.getxattr(fd, name)) for name in sorted(os.listxattr(fd)))
        flags: bytes | None = bytes(struct.calcsize("l"))
        try:
            flags = fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags)
        except OSError:
            flags = None  # no inode flags on this filesystem: none can be set either
        return (info.st_mode, info.st_uid, info.st_gid, attributes, flags)
    except OSError:
        return None
    finally:
        os.close(fd)


def _unchanged(folder: Path, made: Fingerprint) -> bool:
    """Whether the folder is empty and its fingerprint is the one it was made with."""
    try:
        with os.scandir(folder) as entries:
            if next(entries, None) is not None:
                return False
    except OSError:
        return False
    return fingerprint(folder) == made


def _remove_all(folders: list[Path]) -> None:
    while folders:
        remove_temp(folders.pop())


def remove_temp(temp: Path) -> None:
    """Remove a command's temp folder: most are left empty, and one rmdir is cheaper than
    rmtree's walk."""
    try:
        os.rmdir(temp)
    except OSError:
        shutil.rmtree(temp, ignore_errors=True)
