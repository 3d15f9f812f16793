"""Which files changed since the last snapshot, told by the kernel (Linux inotify).

A snapshot otherwise runs `git status`, which looks at every file of the work tree: at 50k
files most of its time is the kernel answering 50k `lstat` calls. The feed watches every
folder git may hold files in, and a snapshot drains what it saw: the events of every write
that finished before the drain are already queued (inotify queues them inside the write),
so nothing has to be waited for. The snapshot then looks at those paths alone.

The feed only claims to know when it can be sure; otherwise `take()` answers None and the
snapshot runs the whole `git status` as before. It is unsure when:

- the kernel's queue overflowed, or a watch could not be set;
- a folder appeared, went or moved (its files may predate its watch), a `.git` entry
  appeared or went (a nested repository), or ignore rules may have changed (a `.gitignore`,
  `info/exclude` or the global excludes file);
- more than MAX_PATHS files changed (a status is then as cheap);
- the last whole status is older than FULL_STATUS_EVERY_S: a file written through a
  memory map or a hard link outside the work tree raises no event, so one is run anyway.

Folders git ignores as a whole are not watched (changes there are not part of a snapshot
either), nor `.git` folders. Not on a network or FUSE file system, where other machines'
writes raise no event.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

MAX_PATHS = 2_000
"""More changed files than this in one snapshot: the whole status costs no more."""
MAX_FOLDERS = 20_000
"""Beyond this many watched folders the feed is not used (each holds a kernel watch)."""
FULL_STATUS_EVERY_S = 300.0

IN_MODIFY, IN_ATTRIB, IN_MOVED_FROM, IN_MOVED_TO = 0x2, 0x4, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED = 0x2000, 0x4000, 0x8000
IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_ISDIR = (
    0x01000000,
    0x02000000,
    0x04000000,
    0x40000000,
)
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
WATCH_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
)  # fmt: skip
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, length of the name

LOCAL_FILE_SYSTEMS = {
    0xEF53: "ext2/3/4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x01021994: "tmpfs",
    0x794C7630: "overlayfs",
    0xF2F52010: "f2fs",
    0x2FC12FC1: "zfs",
    0xCA451A4E: "bcachefs",
}
RULE_FILES = (".gitignore", ".git")
"""Names whose change may change what git sees (ignore rules, a nested repository)."""


class FeedUnavailable(Exception):
    """The work tree cannot be watched here; snapshots run the whole status."""


class ChangeFeed:
    """The paths (relative, posix) that may have changed since the last `take()`."""

    def __init__(
        self,
        root: Path,
        ignored_folders: Callable[[str | None], set[str]],
        rule_files: Iterable[Path] = (),
    ) -> None:
        """`ignored_folders(folder)` lists the folders git ignores as a whole (relative,
        without a trailing slash) under `folder`, or in the whole tree for None."""
        if not sys.platform.startswith("linux"):
            raise FeedUnavailable("inotify is Linux's")
        kind = _file_system(root)
        if kind not in LOCAL_FILE_SYSTEMS:
            raise FeedUnavailable(f"file system {kind:#x} may change without telling")
        self.root = root
        self._ignored_folders = ignored_folders
        self._rule_files = tuple(rule_files)
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise FeedUnavailable(os.strerror(ctypes.get_errno()))
        self._folders: dict[int, str] = {}
        """Watch descriptor -> the folder it watches (relative; "" for the root)."""
        self._paths: set[str] = set()
        self._sure = False
        """Whether every change since the last take is in `_paths` (None is answered if not)."""
        self._rules = self._rule_stamps()
        self._last_whole = -float("inf")
        try:
            self._watch_all()
        except BaseException:
            self.close()
            raise

    def take(self) -> set[str] | None:
        """What changed since the last take, or None when the caller must run the whole
        status (call it right before looking at the work tree: the status run after a None
        is the next take's starting point)."""
        self._drain()
        if self._rules != self._rule_stamps():
            self._rules = self._rule_stamps()
            self.rewatch()
        paths, sure = self._paths, self._sure
        self._paths, self._sure = set(), True
        now = time.monotonic()
        if not sure or now - self._last_whole > FULL_STATUS_EVERY_S:
            self._last_whole = now
            return None
        return paths

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # ---- watching ---------------------------------------------------------------------

    def _watch_all(self) -> None:
        self._unsure()
        self._watch_below("", self._ignored_folders(None))

    def rewatch(self) -> None:
        """Start over: ignore rules changed, or events were lost."""
        before = self._folders
        self._folders = {}
        self._watch_all()
        for wd in before.keys() - self._folders.keys():
            self._libc.inotify_rm_watch(self._fd, wd)  # now ignored, or gone

    def _watch_below(self, top: str, ignored: set[str]) -> None:
        """Watch `top` and every folder under it that git may hold files in."""
        pending = [top]
        while pending:
            folder = pending.pop()
            if folder in ignored:
                continue
            # The watch comes before the listing: what appears meanwhile raises an event.
            if not self._watch(folder):
                continue
            try:
                entries = list(os.scandir(self.root / folder))
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone already: its parent's event said so
            for entry in entries:
                if entry.name != ".git" and entry.is_dir(follow_symlinks=False):
                    pending.append(f"{folder}/{entry.name}" if folder else entry.name)

    def _watch(self, folder: str) -> bool:
        if len(self._folders) >= MAX_FOLDERS:
            raise FeedUnavailable(f"more than {MAX_FOLDERS} folders")
        path = os.fsencode(self.root / folder)
        wd = self._libc.inotify_add_watch(self._fd, path, WATCH_MASK)
        if wd < 0:
            code = ctypes.get_errno()
            if code in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return False  # gone or replaced already: its parent's event said so
            raise FeedUnavailable(f"cannot watch {folder or '.'}: {os.strerror(code)}")
        self._folders[wd] = folder  # the same folder again keeps its descriptor
        return True

    def _unwatch(self, top: str) -> None:
        """Stop watching `top` and every folder under it."""
        prefix = f"{top}/"
        for wd, folder in list(self._folders.items()):
            if folder == top or folder.startswith(prefix):
                del self._folders[wd]
                self._libc.inotify_rm_watch(self._fd, wd)

    def _unsure(self) -> None:
        self._sure = False
        self._paths.clear()

    # ---- reading ----------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 256 * 1024)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = EVENT_HEADER.unpack_from(data, offset)
                start = offset + EVENT_HEADER.size
                name = data[start : start + length].split(b"\0", 1)[0]
                offset = start + length
                self._on_event(wd, mask, os.fsdecode(name))

    def _on_event(self, wd: int, mask: int, name: str) -> None:
        if mask & IN_Q_OVERFLOW:
            self.rewatch()  # events were lost, folders created among them too
            return
        folder = self._folders.get(wd)
        if folder is None:
            return  # a watch already dropped
        if mask & IN_IGNORED:
            del self._folders[wd]
            return
        if mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT):
            # A folder went or moved: its parent's event did the rest, unless it is the root.
            self._unsure()
            return
        path = f"{folder}/{name}" if folder else name
        if name in RULE_FILES:
            self._unsure()
            if name == ".gitignore":
                self.rewatch()  # a folder may be ignored no longer
            return
        if mask & IN_ISDIR:
            self._unsure()
            if mask & (IN_CREATE | IN_MOVED_TO):
                self._watch_below(path, self._ignored_folders(path))
            elif mask & (IN_DELETE | IN_MOVED_FROM):
                self._unwatch(path)
            return
        if self._sure:
            self._paths.add(path)
            if len(self._paths) > MAX_PATHS:
                self._unsure()  # the whole status costs no more than this many paths

    def _rule_stamps(self) -> list[tuple[int, int, int] | None]:
        stamps = []
        for path in self._rule_files:
            try:
                info = path.stat()
            except OSError:
                stamps.append(None)
                continue
            stamps.append((info.st_mtime_ns, info.st_size, info.st_ino))
        return stamps


def _file_system(root: Path) -> int:
    """The statfs(2) type of the file system holding `root`."""
    buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.statfs(os.fsencode(root), buffer) != 0:
        raise FeedUnavailable(os.strerror(ctypes.get_errno()))
    kind = ctypes.c_long.from_buffer(buffer).value  # f_type, the first field
    return kind & 0xFFFFFFFF
