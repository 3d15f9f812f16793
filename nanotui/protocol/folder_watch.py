"""Kernel watches on a tree of folders (Linux inotify), and the changes they report.

Two parts of nanotui watch the workspace: the watcher that tells the user's edits from
nanotui's own, and the checkpoints, which learn from it which files to look at. Each
chooses which folders deserve a watch; neither ever watches a `.git` folder, where git
writes hundreds of objects for one commit or checkpoint that nobody needs to hear about.

A watch is set before its folder is listed, so a file made meanwhile raises an event or is
in the listing. The events of a write that has returned are already queued: `read()` never
waits. When the kernel's queue overflowed, or the root itself went or had its permissions
changed, `read()` says events were lost; the owner then starts over (`rewatch`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_FOLDERS = 20_000
"""Beyond this many folders a tree is not watched (each watch holds kernel memory)."""

IN_MODIFY, IN_ATTRIB, IN_MOVED_FROM, IN_MOVED_TO = 0x2, 0x4, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED = 0x2000, 0x4000, 0x8000
IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_ISDIR = (
    0x01000000,
    0x02000000,
    0x04000000,
    0x40000000,
)
WATCH_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
)  # fmt: skip
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
"""File systems where every change made on this machine raises an event here (by f_type):
not network or FUSE ones, where a write that reaches them another way raises none."""
ADDED, DELETED = IN_CREATE | IN_MOVED_TO, IN_DELETE | IN_MOVED_FROM
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, length of the name

Kind = Literal["added", "modified", "deleted"]


class WatchUnavailable(Exception):
    """The tree cannot be watched here (not Linux, too many folders, no watches left)."""


@dataclass(frozen=True)
class FolderChange:
    path: str
    """Relative to the root, posix."""
    kind: Kind
    folder: bool


class _Watched:
    """The watch descriptors and their folders, with each folder's watched children, so that
    a folder's subtree is found without looking at every watch (a tree of 20,000 folders
    removed is 20,000 events, each of which unwatches its folder)."""

    def __init__(self) -> None:
        self.folders: dict[int, str] = {}
        self._wds: dict[str, int] = {}
        """Folder -> its watch; the latest, when a folder made again has two for a moment."""
        self._children: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self.folders)

    def get(self, wd: int) -> str | None:
        return self.folders.get(wd)

    def set(self, wd: int, folder: str) -> None:
        self.pop(wd)  # renamed: its old name goes
        self.folders[wd] = folder
        self._wds[folder] = wd
        if folder:
            self._children.setdefault(_parent(folder), set()).add(folder)

    def pop(self, wd: int) -> str | None:
        folder = self.folders.pop(wd, None)
        if folder is not None and self._wds.get(folder) == wd:
            del self._wds[folder]
            siblings = self._children.get(_parent(folder)) if folder else None
            if siblings is not None:
                siblings.discard(folder)
                if not siblings:
                    del self._children[_parent(folder)]
        return folder

    def below(self, top: str) -> list[int]:
        """The watches of `top` and of every watched folder under it."""
        found: list[int] = []
        pending = [top]
        while pending:
            folder = pending.pop()
            wd = self._wds.get(folder)
            if wd is not None:
                found.append(wd)
            pending.extend(self._children.get(folder, ()))
        return found

    def merged(self, newer: _Watched) -> _Watched:
        both = _Watched()
        for watched in (self, newer):
            for wd, folder in watched.folders.items():
                both.set(wd, folder)
        return both


def _parent(folder: str) -> str:
    return folder.rsplit("/", 1)[0] if "/" in folder else ""


class FolderWatch:
    """inotify watches on `root` and the folders below it that `skip` does not leave out."""

    def __init__(self, root: Path, max_folders: int | None = None) -> None:
        """`max_folders`: how many folders may be watched (MAX_FOLDERS when not given)."""
        if not sys.platform.startswith("linux"):
            raise WatchUnavailable("inotify is Linux's")
        self.root = root
        self.max_folders = max_folders
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise WatchUnavailable(os.strerror(ctypes.get_errno()))
        # Closed once, by close() or when the watch is dropped without it (a runner that
        # simply goes away): a second os.close could close another file given the number.
        self._close_fd = weakref.finalize(self, os.close, self._fd)
        self._folders = _Watched()
        """Watch descriptor -> the folder it watches (relative; "" for the root)."""
        self.unreadable: list[str] = []
        """Folders that could not be watched or listed (permissions): changes there go unseen."""
        self._lock = threading.RLock()

    def fileno(self) -> int:
        return self._fd

    def watched(self) -> list[str]:
        """The folders watched now (relative; "" for the root)."""
        return list(self._folders.folders.values())

    def close(self) -> None:
        with self._lock:  # not while another thread reads or watches through the descriptor
            if self._fd >= 0:
                self._close_fd()  # drops every watch
                self._fd = -1

    # ---- choosing the folders -------------------------------------------------------

    def watch_below(self, top: str, skip: Callable[[str], bool]) -> list[str]:
        """Watch `top` and every folder under it but `.git` and those `skip` names; the files
        and folders found there (relative), so a new folder's contents can be reported."""
        with self._lock:
            return self._watch_below(top, skip)

    def watch_each_below(self, tops: list[str], skip: Callable[[str], bool]) -> None:
        """`watch_below` for each of `tops`, the folders on their ways looked at once."""
        with self._lock:
            known: dict[str, bool | None] = {}
            for top in tops:
                self._watch_below(top, skip, known)

    def _watch_below(
        self, top: str, skip: Callable[[str], bool], known: dict[str, bool | None] | None = None
    ) -> list[str]:
        found: list[str] = []
        if top and not self._through_folders(top, {} if known is None else known):
            return found  # reached through a link (an old event's path): not below the root
        pending = [top]
        while pending:
            folder = pending.pop()
            if folder and skip(folder):
                continue
            if not self._watch(folder):
                continue
            try:
                entries = list(os.scandir(self.root / folder))
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone already: its parent's event says so
            except PermissionError:
                self.unreadable.append(folder)
                continue
            for entry in entries:
                if entry.name == ".git":
                    continue
                path = f"{folder}/{entry.name}" if folder else entry.name
                found.append(path)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
        return found

    def unwatch(self, top: str) -> None:
        """Stop watching `top` and every folder under it."""
        for wd in self._folders.below(top):
            self._folders.pop(wd)
            self._libc.inotify_rm_watch(self._fd, wd)

    def rewatch(self, skip: Callable[[str], bool]) -> None:
        """Choose every folder afresh (rules changed, or events were lost)."""
        with self._lock:
            before, self._folders = self._folders, _Watched()
            self.unreadable = []
            try:
                self.watch_below("", skip)
            except WatchUnavailable:
                # Out of watches half-way: what was watched stays watched (and known).
                self._folders = before.merged(self._folders)
                raise
            for wd in before.folders.keys() - self._folders.folders.keys():
                self._libc.inotify_rm_watch(self._fd, wd)  # left out now, or gone

    def _watch(self, folder: str) -> bool:
        limit = MAX_FOLDERS if self.max_folders is None else self.max_folders
        if len(self._folders) >= limit:
            raise WatchUnavailable(f"more than {limit} folders to watch")
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(self.root / folder), WATCH_MASK)
        if wd < 0:
            code = ctypes.get_errno()
            if folder and code in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return False  # gone or replaced already: its parent's event says so
            if code == errno.EACCES and folder:
                self.unreadable.append(folder)
                return False
            raise WatchUnavailable(f"cannot watch {folder or '.'}: {os.strerror(code)}")
        previous = self._folders.get(wd)
        if previous is not None and previous != folder and self._one_folder(previous, folder):
            # Two names for one folder: a link on the way to one of them (the check above
            # and this add raced with a change), or a bind mount. Which name the kernel's
            # events belong to cannot be told any more.
            raise WatchUnavailable(f"{folder} and {previous} are one folder")
        self._folders.set(wd, folder)  # a folder watched again (renamed) keeps its descriptor
        return True

    def _through_folders(self, path: str, known: dict[str, bool | None]) -> bool:
        """Whether every folder on the way to `path` (below the root) is a folder, not a
        link: the kernel follows links on the way, whatever the watch's flags say. A way
        that cannot be searched makes `path` unreadable, as a failed watch would. `known`:
        the ways already looked at, for paths that share them."""
        try:
            return through_folders(self.root, path, known)
        except PermissionError:
            self.unreadable.append(path)
            return False

    def _one_folder(self, one: str, other: str) -> bool:
        try:
            first, second = os.lstat(self.root / one), os.lstat(self.root / other)
        except OSError:
            return False  # the old name is gone: the folder was renamed, and is watched anew
        return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)

    # ---- reading --------------------------------------------------------------------

    def read(self) -> tuple[list[FolderChange], bool]:
        """The changes queued so far (never waits), and whether some were lost.

        A folder that went or moved away is unwatched here; one that appeared is reported
        and left for the owner to `watch_below` (it knows what to skip)."""
        with self._lock:
            return self._read()

    def _read(self) -> tuple[list[FolderChange], bool]:
        changes: list[FolderChange] = []
        lost = False
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 256 * 1024)
            except BlockingIOError:
                break
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = EVENT_HEADER.unpack_from(data, offset)
                start = offset + EVENT_HEADER.size
                name = os.fsdecode(data[start : start + length].split(b"\0", 1)[0])
                offset = start + length
                change = self._change(wd, mask, name)
                if change is None:
                    lost = lost or bool(mask & IN_Q_OVERFLOW) or self._root_changed(wd, mask)
                else:
                    changes.append(change)
        return changes, lost

    def _change(self, wd: int, mask: int, name: str) -> FolderChange | None:
        folder = self._folders.get(wd)
        if folder is None or not name:
            if mask & IN_IGNORED:
                self._folders.pop(wd)  # its folder went: the parent said so
            return None
        path = f"{folder}/{name}" if folder else name
        kind: Kind = "added" if mask & ADDED else "deleted" if mask & DELETED else "modified"
        is_folder = bool(mask & IN_ISDIR)
        if is_folder and kind == "deleted":
            self.unwatch(path)
        return FolderChange(path, kind, is_folder)

    def _root_changed(self, wd: int, mask: int) -> bool:
        """The root went, or its permissions changed: every other folder's are reported by
        its parent's watch, but nothing watches the root's parent, and a root that could
        not be listed for a while may hold what no event told of."""
        return self._folders.get(wd) == "" and bool(
            mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_ATTRIB)
        )


def require_local_file_system(root: Path) -> None:
    """WatchUnavailable unless `root` is on one of LOCAL_FILE_SYSTEMS."""
    buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.statfs(os.fsencode(root), buffer) != 0:
        raise WatchUnavailable(os.strerror(ctypes.get_errno()))
    kind = ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF  # f_type, the first field
    if kind not in LOCAL_FILE_SYSTEMS:
        raise WatchUnavailable(f"file system {kind:#x} may change without telling")


def ways_to(path: str) -> list[str]:
    """The folders on the way to `path`, shallowest first ("a", "a/b" for "a/b/c")."""
    return [path[:at] for at, char in enumerate(path) if char == "/"]


def through_folders(root: Path, path: str, known: dict[str, bool | None]) -> bool:
    """Whether every folder on the way to `path` below `root` is a folder, not a link (nor
    gone, nor a file); PermissionError when one cannot be searched. `known`: the ways
    already looked at, for paths that share them (`way_kind`)."""
    try:
        return all(way_kind(root, way, known) for way in ways_to(path))
    except PermissionError:
        raise  # not "no folder": the caller decides what an unsearchable way means
    except OSError:
        return False


def way_kind(root: Path, way: str, known: dict[str, bool | None]) -> bool | None:
    """Whether `way` below `root` is a folder (True), something else, a link or a file
    (False), or not there (None); looked at once for all the paths that share `known`.
    Errors other than its absence are raised (PermissionError: it cannot be searched)."""
    if way not in known:
        try:
            known[way] = stat.S_ISDIR(os.lstat(f"{os.fspath(root)}/{way}").st_mode)
        except (FileNotFoundError, NotADirectoryError):
            known[way] = None
    return known[way]
