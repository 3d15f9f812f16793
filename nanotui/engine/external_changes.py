"""Files changed outside nanotui while a session runs: watched, and told apart from its own.

The user keeps their editor open beside nanotui. When they save a file the model has a
pending diff for, that diff must not be approved, or it would clobber their edit. The
watcher reports every change in the workspace (on Linux through nanotui's own inotify
watches, which leave out `.git` and the folders below that are never worth reporting;
elsewhere through watchfiles), and `ChangeAttribution` drops the ones nanotui made itself:

- a file its tools wrote, while the file still holds exactly what was written (the hash is
  recorded before the write, so it is known however late the watcher reports the change);
- anything that changed while one of its commands (or a restore) was running, or within
  `COMMAND_GRACE_S` after, because the watcher reports a change a little after it happens.

Everything else is external and becomes one `FileChangedExternally` event per batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Literal

from watchfiles import Change, awatch

from nanotui.engine.folder_batches import FolderBatches
from nanotui.protocol.atomic_write import TEMP_NAME
from nanotui.protocol.events import ChangedPath, EventBase, FileChangedExternally, Notice
from nanotui.protocol.folder_watch import FolderWatch, WatchUnavailable

WATCH_STEP_MS = 50
"""A batch is reported once the workspace has been quiet this long (the usual latency)..."""
WATCH_DEBOUNCE_MS = 400
"""...or after this long while changes keep coming (a build reports as it goes)."""
WATCH_THREAD_TIMEOUT_MS = 1000
"""The watcher thread returns this often, so a cancelled watch without `stop()` still ends."""
COMMAND_GRACE_S = 1.0
"""Changes reported this soon after a command ends are still the command's: they happened
while it ran and arrived a batch late."""
MAX_CHANGES_PER_EVENT = 100
"""More than this in one batch (a checkout) are counted in `more`, not listed."""
MAX_KNOWN_PATHS = 200_000
"""Beyond this many files the workspace is not listed at start (see `list_paths`)."""

IGNORED_DIRS = frozenset(
    {
        ".git",
        ".nanotui",
        "__pycache__",
        "node_modules",
        ".venv",
        ".hg",
        ".svn",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)
IGNORED_NAMES = re.compile(
    r"\.sw[a-p]$"  # vim's swap files
    r"|~$"  # backups (vim, emacs)
    r"|^4913$"  # vim writes and deletes it to learn whether the folder is writable
    r"|^\.#"  # emacs lock files
    r"|\.py[co]$"
    r"|^\.DS_Store$"
    f"|{TEMP_NAME.pattern}"  # nanotui's own atomic write, before its rename
)
ChangeKind = Literal["added", "modified", "deleted"]
CHANGE_KINDS: dict[Change, ChangeKind] = {
    Change.added: "added",
    Change.modified: "modified",
    Change.deleted: "deleted",
}


class WorkspaceFilter:
    """Which changed paths are worth reporting; also a watchfiles `watch_filter`."""

    def __init__(self, root: Path, ignored_folders: Iterable[Path] = ()) -> None:
        # The watcher reports paths under the root as given; a symlinked root resolves.
        self.roots = tuple(dict.fromkeys([root.absolute(), root.resolve()]))
        self._ignored_prefixes: list[tuple[str, ...]] = []
        for folder in ignored_folders:
            relative = self.relative(str(folder.resolve()))
            if relative is not None:
                self._ignored_prefixes.append(PurePath(relative).parts)

    def relative(self, path: str) -> str | None:
        """`path` relative to the workspace (posix), or None for the root or outside it."""
        for root in self.roots:
            try:
                relative = PurePath(path).relative_to(root)
            except ValueError:
                continue
            return relative.as_posix() if relative.parts else None
        return None

    def wanted(self, relative: str) -> bool:
        parts = tuple(relative.split("/"))  # relative and posix, as `relative()` gives
        if any(part in IGNORED_DIRS for part in parts) or IGNORED_NAMES.search(parts[-1]):
            return False
        return not any(parts[: len(prefix)] == prefix for prefix in self._ignored_prefixes)

    def __call__(self, change: Change, path: str) -> bool:
        relative = self.relative(path)
        return relative is not None and self.wanted(relative)


def list_paths(root: Path, wanted: Callable[[str], bool]) -> set[str] | None:
    """Every wanted file and folder under `root` (relative, posix); None past MAX_KNOWN_PATHS.

    Knowing what existed is what tells a file replaced by an atomic save (reported as
    "added") from a new one.
    """
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root)
        dirs[:] = [name for name in dirs if wanted((base / name).as_posix())]
        for name in [*dirs, *files]:
            relative = (base / name).as_posix()
            if wanted(relative):
                found.add(relative)
        if len(found) > MAX_KNOWN_PATHS:
            return None
    return found


class ChangeAttribution:
    """Tells the changes nanotui made from everyone else's.

    Fed with what nanotui does (`wrote`, `acting`) and with the watcher's batches of
    (change, path) pairs (`external`). Thread-safe: restores run in threads.
    """

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        grace_s: float = COMMAND_GRACE_S,
    ) -> None:
        self.root = root
        self.known_paths: set[str] | None = None
        """What exists in the workspace (relative), when it could be listed; None otherwise."""
        self._clock = clock
        self.grace_s = grace_s
        self._written: dict[str, str] = {}
        """Relative path -> sha256 of the bytes nanotui last wrote there."""
        self._running = 0
        self._last_end = -math.inf
        self._lock = threading.Lock()

    def wrote(self, path: str, data: bytes) -> None:
        """Note what a file tool is about to write to `path` (call it before writing)."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._written[path] = digest

    @contextmanager
    def acting(self) -> Iterator[None]:
        """nanotui runs a command or restores files: what changes meanwhile is its own."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._last_end = self._clock()

    def external(self, changes: Iterable[tuple[str, str]]) -> list[ChangedPath]:
        """The changes nanotui did not make, one per path, from (kind, relative path) pairs.

        Reads the files nanotui wrote, to compare their hashes; call it off the event loop.
        """
        kinds: dict[str, set[str]] = {}
        for kind, path in changes:
            kinds.setdefault(path, set()).add(kind)
        with self._lock:
            acting = self._running > 0 or self._clock() - self._last_end <= self.grace_s
            written = dict(self._written)
        found = []
        for path in sorted(kinds):
            exists = os.path.lexists(self.root / path)
            label = self._label(path, kinds[path], exists)
            if label is None or acting or self._holds(path, written.get(path)):
                continue
            found.append(ChangedPath(path=path, change=label))
        return found

    def _label(self, path: str, kinds: set[str], exists: bool) -> ChangeKind | None:
        """added / modified / deleted; None for a file born and gone within one batch."""
        known = self.known_paths
        if known is None:
            if not exists:
                return None if "added" in kinds else "deleted"
            return "added" if "added" in kinds and "deleted" not in kinds else "modified"
        existed = path in known
        if exists:
            known.add(path)
            return "modified" if existed else "added"
        known.discard(path)
        return "deleted" if existed else None

    def _holds(self, path: str, digest: str | None) -> bool:
        """True when `path` holds exactly the bytes nanotui last wrote there."""
        if digest is None:
            return False
        try:
            data = (self.root / path).read_bytes()
        except OSError:
            return False
        return hashlib.sha256(data).hexdigest() == digest


class WorkspaceWatcher:
    """Watches a workspace and yields an event for each batch of changes made outside nanotui."""

    def __init__(
        self, root: Path, attribution: ChangeAttribution, ignored_folders: Iterable[Path] = ()
    ) -> None:
        self.root = root
        self.attribution = attribution
        self.filter = WorkspaceFilter(root, ignored_folders)
        self.watching = asyncio.Event()
        """Set once the watcher is in place: every change from then on is seen."""
        self._stop = asyncio.Event()
        self._folders: FolderWatch | None = None

    def folders_watched(self) -> list[str]:
        """The folders nanotui's own watches cover (none when watchfiles watches)."""
        return self._folders.watched() if self._folders is not None else []

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End `events()` within one watcher step (it is checked every WATCH_STEP_MS)."""
        self._stop.set()

    async def events(self) -> AsyncIterator[EventBase]:
        """FileChangedExternally events until `stop()`; one Notice if watching fails."""
        try:
            folders = await asyncio.to_thread(self._watch_folders)
            if folders is not None:
                async for event in self._folder_events(folders):
                    yield event
                return
            self.attribution.known_paths = await asyncio.to_thread(
                list_paths, self.root, self.filter.wanted
            )
            try:
                async for event in self._watch(skip_unreadable=False):
                    yield event
            except PermissionError:
                # Strict first, because the lenient watcher also hides a watch limit reached.
                yield Notice(
                    text="Some folders in the workspace cannot be read; edits inside them "
                    "are not watched."
                )
                async for event in self._watch(skip_unreadable=True):
                    yield event
        except Exception as exc:  # a watch limit reached, the workspace gone: say it, go on
            if not self.stopped:
                yield Notice(
                    level="warning",
                    text=f"Edits made outside nanotui are not watched in this session "
                    f"({_reason(exc)}); a diff whose file changed is still refused on approval.",
                )

    # ---- Linux: nanotui's own inotify watches -----------------------------------------

    def _watch_folders(self) -> FolderWatch | None:
        """Watches on the wanted folders, and what exists in them; None where it cannot."""
        try:
            folders = FolderWatch(self.root)
        except WatchUnavailable:
            return None
        try:
            found = folders.watch_below("", self._skip)
        except WatchUnavailable:
            folders.close()
            return None  # watchfiles then tries, and says what is wrong if it fails too
        known = {path for path in found if self.filter.wanted(path)}
        self.attribution.known_paths = known if len(known) <= MAX_KNOWN_PATHS else None
        self._folders = folders
        return folders

    def _skip(self, folder: str) -> bool:
        return not self.filter.wanted(folder)

    async def _folder_events(self, folders: FolderWatch) -> AsyncIterator[EventBase]:
        batches = FolderBatches(
            folders,
            self.filter.wanted,
            self._stop,
            step_s=WATCH_STEP_MS / 1000,
            debounce_s=WATCH_DEBOUNCE_MS / 1000,
        )
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            self.watching.set()
            if folders.unreadable:
                yield Notice(
                    text="Some folders in the workspace cannot be read; edits inside them "
                    "are not watched."
                )
            told_of_trouble = False
            while not self.stopped:
                pairs = await batches.next(stopping)
                if batches.trouble and not told_of_trouble:
                    told_of_trouble = True
                    yield Notice(
                        level="warning",
                        text=f"Edits in some folders are no longer watched ({batches.trouble});"
                        " a diff whose file changed is still refused on approval.",
                    )
                if not pairs:
                    continue
                changed = await asyncio.to_thread(self.attribution.external, pairs)
                if changed and not self.stopped:
                    yield FileChangedExternally(
                        changes=changed[:MAX_CHANGES_PER_EVENT],
                        more=max(0, len(changed) - MAX_CHANGES_PER_EVENT),
                    )
        finally:
            folders.close()
            stopping.cancel()

    # ---- elsewhere: watchfiles --------------------------------------------------------

    async def _watch(self, *, skip_unreadable: bool) -> AsyncIterator[EventBase]:
        batches = awatch(
            self.root,
            watch_filter=self.filter,
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_STEP_MS,
            stop_event=self._stop,
            rust_timeout=WATCH_THREAD_TIMEOUT_MS,
            ignore_permission_denied=skip_unreadable,
        )
        # Waiters wake at this task's next await, which comes after awatch has made its
        # watcher (synchronously, on the first step of the loop below).
        self.watching.set()
        async for batch in batches:
            pairs = [
                (CHANGE_KINDS[change], relative)
                for change, path in batch
                if (relative := self.filter.relative(path)) is not None
            ]
            changed = await asyncio.to_thread(self.attribution.external, pairs)
            if changed and not self.stopped:
                yield FileChangedExternally(
                    changes=changed[:MAX_CHANGES_PER_EVENT],
                    more=max(0, len(changed) - MAX_CHANGES_PER_EVENT),
                )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text.splitlines()[0]
