"""Which files changed since the last snapshot, told by the kernel (Linux inotify).

A snapshot otherwise runs `git status`, which looks at every file of the work tree: at 50k
files most of its time is the kernel answering 50k `lstat` calls. The feed watches every
folder git may hold files in, and a snapshot drains what it saw: the events of every write
that finished before the drain are already queued (inotify queues them inside the write),
so nothing has to be waited for. The snapshot then looks at those paths alone.

The feed only claims to know when it can be sure; otherwise `take()` answers None and the
snapshot runs the whole `git status` as before. It is unsure when:

- the kernel's queue overflowed (the folders are chosen again);
- a folder appeared, went or moved (its files may predate its watch), a `.git` entry
  appeared or went (a nested repository), or ignore rules may have changed (a `.gitignore`,
  `info/exclude` or the global excludes file);
- more than MAX_PATHS files changed (a status is then as cheap);
- the last whole status is older than FULL_STATUS_EVERY_S: a file written through a
  memory map, or through a hard link from outside the work tree, raises no event, so one
  is run anyway (a told file with other links makes the snapshot run it at once).

Folders a rule ignores and that hold nothing nanotui's index tracks are not watched
(changes there are not part of a snapshot either), nor `.git` folders (`FolderWatch`). Not
on a network or FUSE file system, where other machines' writes raise no event, nor where a
folder cannot be read (a watch needs read permission, git does not): the feed is then
dropped (FeedUnavailable) and every snapshot of the session runs the whole status.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from nanotui.protocol.folder_watch import (
    FolderChange,
    FolderWatch,
    WatchUnavailable,
    require_local_file_system,
)
from nanotui.vcs.gitrunner import GitRunner
from nanotui.vcs.location import Storage

MAX_PATHS = 2_000
"""More changed files than this in one snapshot: the whole status costs no more."""
FULL_STATUS_EVERY_S = 300.0

GIT_NAMES = (".gitignore", ".git")
"""Names whose change may change what git sees: ignore rules, or a nested repository."""


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
        """`ignored_folders(folder)` names the folders a rule ignores and nanotui's index
        holds nothing of (relative, no trailing slash), under `folder` or anywhere for None."""
        try:
            require_local_file_system(root)
        except WatchUnavailable as exc:
            raise FeedUnavailable(str(exc)) from None
        self._ignored_folders = ignored_folders
        self._rule_files = tuple(rule_files)
        self._paths: set[str] = set()
        self._sure = False
        """Whether every change since the last take is in `_paths` (None is answered if not)."""
        self._rewatch_wanted = False
        self._rules = self._rule_stamps()
        self._last_whole = -float("inf")
        try:
            self._watch = FolderWatch(root)
        except WatchUnavailable as exc:
            raise FeedUnavailable(str(exc)) from None
        try:
            self.rewatch()
        except BaseException:
            self.close()
            raise

    def take(self) -> set[str] | None:
        """What changed since the last take, or None when the caller must run the whole
        status (call it right before looking at the work tree: the status run after a None
        is the next take's starting point). A caller that then fails calls `forget()`."""
        changes, lost = self._watch.read()
        for change in changes:
            self._on_change(change)
        if lost or self._rewatch_wanted or self._rules != self._rule_stamps():
            self.rewatch()
        if self._watch.unreadable:
            # Watches need read permission; git needs less. Rewatching at every take would
            # cost more than the status it spares: this session runs the status instead.
            raise FeedUnavailable(f"cannot watch {self._watch.unreadable[0]}")
        paths, sure = self._paths, self._sure
        self._paths, self._sure = set(), True
        now = time.monotonic()
        if not sure or now - self._last_whole > FULL_STATUS_EVERY_S:
            self._last_whole = now
            return None
        return paths

    def forget(self) -> None:
        """The last take's paths were not used (the snapshot failed): the next take answers
        None, so they are looked at again with everything else."""
        self._unsure()

    def rewatch(self) -> None:
        """Choose the folders afresh: ignore rules or the index changed, or events were lost."""
        self._unsure()
        self._rewatch_wanted = False
        self._rules = self._rule_stamps()
        ignored = self._ignored_folders(None)
        try:
            self._watch.rewatch(ignored.__contains__)
        except WatchUnavailable as exc:
            raise FeedUnavailable(str(exc)) from None

    def close(self) -> None:
        self._watch.close()

    def _on_change(self, change: FolderChange) -> None:
        name = change.path.rsplit("/", 1)[-1]
        if name in GIT_NAMES:
            self._unsure()
            # A folder may be ignored no longer, or be a repository's of its own now.
            self._rewatch_wanted = True
            return
        if change.folder:
            self._unsure()  # its files may predate its watch
            if change.kind == "added":
                ignored = self._ignored_folders(change.path)
                try:
                    self._watch.watch_below(change.path, ignored.__contains__)
                except WatchUnavailable as exc:
                    raise FeedUnavailable(str(exc)) from None
            return
        if self._sure:
            self._paths.add(change.path)
            if len(self._paths) > MAX_PATHS:
                self._unsure()  # the whole status costs no more than this many paths

    def _unsure(self) -> None:
        self._sure = False
        self._paths.clear()

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


def open_feed(storage: Storage, runner: GitRunner) -> ChangeFeed:
    """A feed on `storage`'s work tree (FeedUnavailable where there can be none). Seed
    nanotui's index first: which folders need no watch is asked of it."""

    def ignored_folders(folder: str | None) -> set[str]:
        # The folders whose every file is untracked and ignored. Listed with nanotui's
        # index, so a folder holding a file it took in before a rule ignored the folder is
        # watched: status goes on comparing that file. Of those, only the folders a rule
        # ignores themselves: one whose files all happen to be ignored today (logs/ with
        # *.log) may hold a file that is not tomorrow.
        pathspec = ("--", f":(literal){folder}") if folder else ()
        out = runner.run(
            "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
            *pathspec,
        )  # fmt: skip
        # Asked without the closing slash: "logs/" would match a rule "logs/*" that ignores
        # only what is inside (a negation may bring a file back); dir-only rules still apply.
        listed = [path[:-1] for path in out.split(b"\0") if path.endswith(b"/")]
        if not listed:
            return set()
        by_rule = runner.run(
            "check-ignore", "--no-index", "-z", "--stdin", stdin=b"\0".join(listed) + b"\0",
            ok_codes=(0, 1),
        )  # fmt: skip
        return {os.fsdecode(path) for path in by_rule.split(b"\0") if path}

    return ChangeFeed(storage.root, ignored_folders, _rule_files(storage, runner))


def _rule_files(storage: Storage, runner: GitRunner) -> list[Path]:
    """The ignore rules outside the work tree: info/exclude and the global excludes file."""
    exclude = runner.text("rev-parse", "--git-path", "info/exclude")
    files = [storage.root / exclude]
    configured = runner.run("config", "--path", "core.excludesFile", ok_codes=(0, 1))
    if configured.strip():
        files.append(Path(os.fsdecode(configured.strip())))
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        files.append(Path(xdg) / "git" / "ignore")
    return files
