"""The workspace's changes in batches, from nanotui's own inotify watches (Linux).

`WorkspaceWatcher` reports a batch once the workspace has been quiet for a step, or after
the debounce while changes keep coming. The loop listens to the watch only until a batch
starts; then the queue is read once a step, on a thread, so a stream of changes (a restore,
a build) does not wake the loop for each, and a new folder is listed and watched off it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nanotui.protocol.folder_watch import FolderWatch, WatchUnavailable

Pair = tuple[str, str]
"""(kind, path): "added", "modified" or "deleted", and the path relative to the workspace."""


class FolderBatches:
    """Batches of wanted changes from `folders`, until `stop` is set."""

    def __init__(
        self,
        folders: FolderWatch,
        wanted: Callable[[str], bool],
        stop: asyncio.Event,
        *,
        step_s: float,
        debounce_s: float,
    ) -> None:
        self.folders = folders
        self.wanted = wanted
        self._stop = stop
        self.step_s = step_s
        self.debounce_s = debounce_s
        self.trouble: str | None = None
        """Why some folders went unwatched after the start, if they did."""

    def skip(self, folder: str) -> bool:
        return not self.wanted(folder)

    async def next(self, stopping: asyncio.Future[object]) -> list[Pair]:
        """The next batch ([] once stopped): from a first change until a quiet step, or for
        at most the debounce while changes keep coming."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        fd = self.folders.fileno()
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await asyncio.wait({readable, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(fd)
            readable.cancel()
        if self._stop.is_set():
            return []
        ends = loop.time() + self.debounce_s
        pairs, _ = await asyncio.to_thread(self._read)
        while not self._stop.is_set() and (left := ends - loop.time()) > 0:
            await asyncio.sleep(min(self.step_s, left))
            more, seen = await asyncio.to_thread(self._read)
            pairs += more
            if not seen:
                break  # a quiet step: the batch is complete
        return pairs

    def _read(self) -> tuple[list[Pair], int]:
        """The wanted pairs of what is queued (a new folder's contents count as added), and
        how many changes were read, wanted or not."""
        changes, lost = self.folders.read()
        pairs = []
        if lost:
            self._watch_more(self.folders.rewatch)  # the queue overflowed: folders may be new
        for change in changes:
            if not self.wanted(change.path):
                continue
            pairs.append((change.kind, change.path))
            if change.folder and change.kind == "added":
                inside = self._watch_more(
                    lambda skip, top=change.path: self.folders.watch_below(top, skip)
                )
                pairs += [("added", path) for path in inside or () if self.wanted(path)]
        return pairs, len(changes) + lost

    def _watch_more(self, watch: Callable[[Callable[[str], bool]], object]) -> object:
        """Set more watches; when the kernel's run out (a build made thousands of folders),
        the folders watched so far stay watched and the user is told once."""
        try:
            return watch(self.skip)
        except WatchUnavailable as exc:
            self.trouble = self.trouble or str(exc)
            return None
