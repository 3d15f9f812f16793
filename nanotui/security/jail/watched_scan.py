"""The look for repositories (`repositories.scan`), kept by the kernel's watch between looks.

Every command runs between two looks at the whole work tree, and a look lists every folder:
about 0.13 s for 11,000 folders here, twice a command. In such a tree the look is taken once
and the kernel's watch on every folder (`FolderWatch`) then says what changed: the last
look's answer stands while no folder, `.git` or `.envrc` entry came, went or moved. What did
is applied to it in the order it happened, as the tree is now: a new folder is listed (its
subtree alone), a folder gone takes what was below it, a marker is looked at where it is.
The tree is listed whole again when:

- the kernel's queue overflowed (a command can make more events than it holds), or the
  root itself went;
- a folder's permissions changed (the root's included): what can be listed below it may
  have too;
- the mounts changed (a file system mounted over a folder raises no event in it; one
  mounted inside the tree ends the watch);
- the work tree's path names another folder (one above it was renamed: no event says so);
- the watch failed in any way, or a folder could not be watched (it is then dropped, and
  every look is whole).

The events of a change are queued by the system call that made it, so once a command's
processes have ended its changes are all in the queue when the look after it reads it. A
new folder is watched before it is listed, so what is made in it later raises an event. The
contents of the files the looks find are read afresh by every look (`control_files.take`);
only where they are is kept.
"""

from __future__ import annotations

import os
import re
import select
import stat
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from nanotui.protocol.folder_watch import (
    FolderChange,
    FolderWatch,
    WatchUnavailable,
    require_local_file_system,
    through_folders,
    ways_to,
)
from nanotui.security.jail import repositories

WATCH_AFTER_S = 0.005
"""A tree whose whole look takes this long is watched: below it, the watch's own first look
and its kernel memory cost more than the looks it saves."""
MAX_WATCHED_FOLDERS = 50_000
"""A bigger tree is looked at whole every time: each watch holds about 1 KB of the kernel's
memory, and a user's watches are limited (`fs.inotify.max_user_watches`)."""
LOOP_WAIT_S = 0.05
"""How long a look on the event loop waits for another look before it lists the tree itself:
a kept look takes milliseconds, the watch's setup seconds in a big tree."""
MOUNTS = Path("/proc/self/mountinfo")
MARKER_NAMES = frozenset({repositories.MARKER, *repositories.RUNS_ON_ENTRY})


class WatchedScan:
    """One work tree's looks for repositories, shared by the commands run in it."""

    def __init__(self, workspace: Path, watch_after_s: float | None = None) -> None:
        self.workspace = workspace
        self.watch_after_s = WATCH_AFTER_S if watch_after_s is None else watch_after_s
        self.whole_looks = 0
        """How many looks listed the whole tree (the others were kept by the watch)."""
        self._watch: FolderWatch | None = None
        self._no_watch = False
        """Set once the watch failed or could not start here: every look is whole."""
        self._last: repositories.Scan | None = None
        self._mounts: MountTable | None = None
        self._root: tuple[int, int] | None = None
        """The watched root folder's device and inode: the path may come to name another."""
        self._lock = threading.Lock()
        """Looks come from the event loop and from threads (the look before a command)."""

    def look(self, may_start_watch: bool = False) -> repositories.Scan:
        """What a whole look would find now. `may_start_watch`: this look may set up the
        watch (a whole look more, and a watch on every folder) if the tree is big enough;
        only a look on a thread may (the look after a command runs on the event loop, and
        waits at most LOOP_WAIT_S for another look before it lists the tree itself)."""
        if not self._lock.acquire(timeout=-1 if may_start_watch else LOOP_WAIT_S):
            # Another look holds the state (the session's warm-up setting the watch up can
            # take seconds): a whole look of its own, as every look was before the watch.
            return repositories.scan(self.workspace)
        try:
            if self._watch is not None:
                try:
                    kept = self._kept_look()
                    if kept is not None:
                        self._last = kept
                        return kept
                except (WatchUnavailable, OSError):
                    self._drop_watch()
            started = time.perf_counter()
            found = self._whole_look()
            slow = time.perf_counter() - started >= self.watch_after_s
            if self._watch is None and may_start_watch and slow and not self._no_watch:
                found = self._start_watch() or found
            return found
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._drop_watch()

    @property
    def watching(self) -> bool:
        return self._watch is not None

    def quiet(self) -> bool:
        """Whether the watch has nothing queued, so that the next look lists nothing unless
        the mounts changed (not asked here: the kernel says that once, to the look)."""
        watch = self._watch
        if watch is None:
            return False
        try:
            return not select.select([watch.fileno()], [], [], 0)[0]
        except (OSError, ValueError):
            return False  # closed meanwhile

    def _whole_look(self) -> repositories.Scan:
        self.whole_looks += 1
        found = repositories.scan(self.workspace)
        self._last = found if self._watch is not None else None
        return found

    def _start_watch(self) -> repositories.Scan | None:
        """Watch every folder, then look again (what changed before a folder's watch was
        set is in this look); None when the tree cannot be watched."""
        try:
            require_local_file_system(self.workspace)
            self._root = _identity(self.workspace)
            watch = FolderWatch(self.workspace, max_folders=MAX_WATCHED_FOLDERS)
            self._watch = watch
            self._mounts = MountTable()
            if self._mounts.any_below(self.workspace):
                raise WatchUnavailable("a file system is mounted inside the work tree")
            watch.watch_below("", _nothing)
        except (WatchUnavailable, OSError):
            self._drop_watch()
            return None
        if watch.unreadable:
            self._drop_watch()  # changes below an unwatched folder would go unseen
            return None
        return self._whole_look()

    def _kept_look(self) -> repositories.Scan | None:
        """The last look brought up to date by what the watch saw, or None when only a
        whole look can say (the watch is then ready for it: new folders watched)."""
        watch = self._watch
        assert watch is not None
        changes, lost = watch.read()
        if lost:
            watch.rewatch(_nothing)
        else:
            # Every new folder but a `.git` one, which the look never enters either (a folder
            # named `.envrc` it does enter); each once, and not below another (a folder moved
            # back and forth a thousand times is one folder to watch).
            new = {c.path for c in changes if c.folder and c.kind != "deleted"}
            tops = _outermost(p for p in new if _name(p) != repositories.MARKER)
            watch.watch_each_below(tops, _nothing)  # before they are listed
        if watch.unreadable:
            raise WatchUnavailable("a folder cannot be watched")
        remounted = self._mounts is None or self._mounts.changed()
        if remounted and self._mounts is not None and self._mounts.any_below(self.workspace):
            # The watches below stay on the folders the new file system covers, and its own
            # folders have none: nothing made there would raise an event.
            raise WatchUnavailable("a file system is mounted inside the work tree")
        # A folder above the root renamed raises no event here, and its old path may hold
        # another tree by now: the watch would still be on the one that moved away.
        if _identity(self.workspace) != self._root:
            raise WatchUnavailable("the work tree's folder is another one now")
        # A folder's permissions changed: what can be listed below it may have too.
        chmodded = any(c.folder and c.kind == "modified" for c in changes)
        if lost or remounted or chmodded or self._last is None:
            return None
        return self._updated(self._last, [c for c in changes if _changes_the_look(c)])

    def _updated(self, last: repositories.Scan, changes: list[FolderChange]) -> repositories.Scan:
        """`last` with every path the changes name looked at again as it is now: what was
        found there or below it goes, and what is there now comes in (a folder is listed
        with its subtree, a marker looked at). Not by the kind of each event: two folders
        swapped (RENAME_EXCHANGE) say "moved away" last about a name that is there."""
        touched = {change.path for change in changes}
        if not touched:
            return last
        markers = {m for m in last.repositories if not _at_or_below(m, touched)}
        entered = {e for e in last.runs_on_entry if not _at_or_below(e, touched)}
        real: dict[str, bool | None] = {}
        for path in _outermost(touched):  # a folder looked at again covers what is below
            self._look_again(path, markers, entered, real)
        return repositories.Scan(sorted(markers), sorted(entered), last.complete)

    def _look_again(
        self, path: str, markers: set[str], entered: set[str], real: dict[str, bool | None]
    ) -> None:
        """Add what a whole look would find at `path` and below it now (`real`: the
        folders on the ways already looked at)."""
        if not self._reachable(path, real):
            return  # gone, or behind a link or a file, or inside a `.git` folder
        try:
            info = os.lstat(self.workspace / path)
        except (FileNotFoundError, NotADirectoryError):
            return
        name = _name(path)
        if name == repositories.MARKER:
            if "/" in path:  # any kind, and never entered; the root's own is not nested
                markers.add(path)
        elif stat.S_ISDIR(info.st_mode):
            found = repositories.scan(self.workspace, below=path)
            if found.unlisted:
                raise WatchUnavailable("a folder cannot be listed")  # nor watched: look whole
            markers.update(found.repositories)
            entered.update(found.runs_on_entry)
        elif name in repositories.RUNS_ON_ENTRY:
            entered.add(path)

    def _reachable(self, path: str, real: dict[str, bool | None]) -> bool:
        """Whether a whole look would get to `path`: every folder on its way is a folder
        (not a link, which the look does not follow) and none is a `.git` one."""
        if repositories.MARKER in path.split("/")[:-1]:
            return False
        try:
            return through_folders(self.workspace, path, real)
        except PermissionError:
            raise WatchUnavailable("a folder cannot be searched") from None  # look whole

    def _drop_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()
        if self._mounts is not None:
            self._mounts.close()
        self._watch = self._mounts = None
        self._last = None
        self._no_watch = True


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths that are not below another of them. Ordered by their parts, a path's
    descendants come right after it."""
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: p.split("/")):
        if not kept or not path.startswith(kept[-1] + "/"):
            kept.append(path)
    return kept


def _at_or_below(path: str, folders: set[str]) -> bool:
    return path in folders or any(way in folders for way in ways_to(path))


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _changes_the_look(change: FolderChange) -> bool:
    return change.folder or _is_marker(change)


def _is_marker(change: FolderChange) -> bool:
    return _name(change.path) in MARKER_NAMES


def _identity(folder: Path) -> tuple[int, int]:
    info = os.stat(folder)
    return info.st_dev, info.st_ino


def _nothing(_folder: str) -> bool:
    """Skip no folder: the look enters every folder but `.git` ones, and so does the watch."""
    return False


class MountTable:
    """Whether this process's mounts changed: an open mount table is marked by the kernel
    when they do (poll(2) says POLLPRI, once per change; see proc(5)), which costs far less
    than reading the table at every look."""

    def __init__(self) -> None:
        # A file object, not a bare descriptor: closed with the object if never closed.
        self._table = open(MOUNTS, "rb", buffering=0)  # noqa: SIM115 (OSError: no watch)
        self._poll = select.poll()
        self._poll.register(self._table, select.POLLPRI | select.POLLERR)

    def changed(self) -> bool:
        """Whether they changed since the table was opened or this last said so."""
        return bool(self._poll.poll(0))

    def any_below(self, root: Path) -> bool:
        """Whether a file system is mounted anywhere below `root` (not at it): it may be one
        whose changes raise no event here, and a watch cannot tell."""
        top = os.path.realpath(root).rstrip("/") + "/"
        for line in MOUNTS.read_text(errors="surrogateescape").splitlines():
            fields = line.split(" ")
            if len(fields) > 4 and _unescaped(fields[4]).startswith(top):
                return True
        return False

    def close(self) -> None:
        self._table.close()


def _unescaped(field: str) -> str:
    """A mount table field as a path: spaces and others are written as octal (`\\040`)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)
