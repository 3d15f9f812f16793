"""Taking a snapshot: a tree of the whole work tree, built in nanotui's own index.

The private index starts as a copy of the user's index (whose stat cache makes unchanged
files free) and is kept between snapshots with git's untracked cache, so a snapshot costs
one `git status`, one `update-index` over the paths that changed, and a `write-tree` (none
when nothing changed). Where the kernel can tell which files changed (`ChangeFeed`), the
status is left out too: git is asked only which of those paths it tracks or ignores. The
user's index, HEAD, refs and stash are only ever read.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nanotui.protocol.atomic_write import copy_atomically
from nanotui.protocol.checkpoints import CheckpointError, SkippedFile
from nanotui.protocol.folder_watch import way_kind, ways_to
from nanotui.vcs.change_feed import ChangeFeed, FeedUnavailable, open_feed
from nanotui.vcs.file_lock import locked
from nanotui.vcs.gitrunner import GitRunner, nul_separated
from nanotui.vcs.location import Storage
from nanotui.vcs.told_changes import sort_told

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SEED_MAX_AGE_S = 24 * 60 * 60
"""A seed's staged-content commit is unreferenced until a checkpoint uses it; renew it daily."""

UNTRACKED_CACHE = (
    # Every command on the private index keeps git's untracked cache (status then lists only
    # the folders whose mtime changed), whatever the repository's own config says; status
    # adds it to a freshly seeded index, so seeding needs no index write of its own.
    "-c",
    "core.untrackedCache=true",
)

STATUS_ARGS = (
    *UNTRACKED_CACHE,
    # The untracked cache only serves --untracked-files=all when the config asks for it.
    "-c",
    "status.showUntrackedFiles=all",
    "status",
    "--porcelain=v2",
    "-z",
    "--untracked-files=all",
    "--ignore-submodules=all",
    "--no-renames",
)

BULK_CHECK_IN = ("-c", "core.bigFileThreshold=1")
"""Every blob over this threshold goes into one pack per command (git's bulk check-in)
instead of a loose object each: hundreds of new files cost one file write, not hundreds."""

BULK_CHECK_IN_FROM = 100
"""Fewer files than this are stored as loose objects. A pack for every batch's few files
piled up: every object lookup walks the packs, so a cold snapshot at 50k files took 0.21 s
with 280 packs against 0.16 s with 2, and past 50 packs the user's next `git commit`
repacked the whole repository (`gc.autoPackLimit`). Loose objects are looked up by name."""

ADD_TO_INDEX = (
    *UNTRACKED_CACHE,
    "update-index",
    "--add",
    "--remove",
    # A skip-worktree entry (sparse checkout, a hidden local config) stays as it is, as
    # status leaves it; --remove would drop it when its file is absent or was told of.
    "--ignore-skip-worktree-entries",
    "-z",
    "--stdin",
)

WRITE_TREE = (
    # Trees are written as loose objects, hundreds per snapshot; compressing them was a
    # quarter of write-tree's time. They take a little more room until git packs them.
    "-c",
    "core.looseCompression=0",
    *UNTRACKED_CACHE,
    "write-tree",
)

FORCE_REMOVE = (*UNTRACKED_CACHE, "update-index", "--force-remove", "-z", "--stdin")


@dataclass(frozen=True)
class TreeSnapshot:
    """The work tree as a tree object, and what it left out."""

    tree: str
    base: str | None
    index_commit: str | None
    skipped: tuple[SkippedFile, ...]
    previous_tree: str | None = None
    """The tree this builder made just before, when the private index has been nobody
    else's since: then `changed` counts the files that differ from it."""
    changed: int = 0


class TreeBuilder:
    """Builds tree objects of the work tree in the private index."""

    def __init__(
        self,
        storage: Storage,
        runner: GitRunner,
        *,
        max_file_bytes: int,
        include: Sequence[str] = (),
    ) -> None:
        self.storage = storage
        self.runner = runner
        self.max_file_bytes = max_file_bytes
        self.include = tuple(include)
        self._last_built: tuple[str, list[int] | None] | None = None
        """The last tree built here and the private index's signature right after."""
        self._last_skipped: list[SkippedFile] = []
        self._feed: ChangeFeed | None = None
        self._seeded_from: list[int] | None = None
        """The signature of the user's index the private index was last seeded from."""
        self._feed_seed: list[int] | None = None
        """The seed the feed chose its folders by (which folders need no watch)."""
        self._close_after_build = False
        self._one_at_a_time = threading.Lock()
        """Builds, the feed's start and closing (the app's threads; `locked` is per process)."""

    def watch_changes(self, *, wait: bool = True) -> bool | None:
        """Have the kernel tell later snapshots which files changed (Linux), so they need
        not look at every file; False where it cannot (they then run the whole status).
        Without `wait`, None at once when another build holds the work tree: ask again."""
        with self._holding(wait=wait) as held:
            if not held:
                return None
            if self._feed is not None:
                return True
            if self.include:
                return False  # included ignored files are looked for by a listing every time
            try:
                # The feed asks nanotui's index which folders need no watch: seed it first.
                self._seed_private_index(self._base())
                self._feed_seed = self._seeded_from
                self._feed = open_feed(self.storage, self.runner)
            except (FeedUnavailable, CheckpointError, OSError):
                return False
            return True

    def close(self) -> None:
        """Stop the feed; a build running on another thread stops it as it ends (closing
        runs on the event loop, which must not wait for a build)."""
        if not self._one_at_a_time.acquire(blocking=False):
            self._close_after_build = True
            return
        try:
            self._drop_feed()
        finally:
            self._one_at_a_time.release()

    def _drop_feed(self) -> None:
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def build(self) -> TreeSnapshot:
        with self._holding(wait=True):
            return self._build_held()

    def build_if_free(self) -> TreeSnapshot | None:
        """`build()`, or None at once when another build holds the work tree (on another
        thread, or another nanotui): for work nobody waits for, which must never queue."""
        with self._holding(wait=False) as held:
            return self._build_held() if held else None

    @contextmanager
    def _holding(self, *, wait: bool) -> Iterator[bool]:
        """This builder's lock and the work tree's (one build at a time across processes:
        they share the private index); without `wait`, False at once when either is held."""
        if not self._one_at_a_time.acquire(blocking=wait):
            yield False
            return
        try:
            with locked(self.storage.lock_file, wait=wait) as held:
                yield held
        finally:
            self._one_at_a_time.release()

    def _build_held(self) -> TreeSnapshot:
        base = self._base()
        index_commit = self._seed_private_index(base)
        previous = self._previous_tree()  # after seeding: a fresh seed is not that index
        told = self._take_feed()
        try:
            tree, skipped, changed = self._build(previous, told)
        except BaseException:
            if self._feed is not None:
                self._feed.forget()  # what it told of was not recorded: look again
            raise
        finally:
            if self._close_after_build:
                self._drop_feed()
        return TreeSnapshot(
            tree,
            base,
            index_commit,
            tuple(skipped),
            previous_tree=previous if changed is not None else None,
            changed=changed or 0,
        )

    def _build(
        self, previous: str | None, told: set[str] | None
    ) -> tuple[str, list[SkippedFile], int | None]:
        """The tree, the files left out and how many files changed since
        `previous` (None when only a tree diff can say)."""
        fed = None
        if previous is not None and told is not None:
            still = [s for s in self._last_skipped if s.path not in told]
            fed = sort_told(self.runner, self.storage.root, told, still, self._reason_to_skip)
        paths, skipped = (fed.paths, fed.skipped) if fed else self._paths_to_update()
        # update-index refuses a path behind a symlink; such a file is gone all the same.
        folders = FolderKinds(self.storage.root)
        behind = [p for p in paths if folders.behind_symlink(p)]
        if behind:
            self.runner.run(*FORCE_REMOVE, stdin=nul_separated(behind))
        left_out = set(behind)
        rest = [p for p in paths if p not in left_out]
        if rest:
            bulk = BULK_CHECK_IN if len(rest) >= BULK_CHECK_IN_FROM else ()
            self.runner.run(*bulk, *ADD_TO_INDEX, stdin=nul_separated(rest))
        if fed is not None:
            changed = fed.changed(self.runner)
        elif previous is not None and not self.include:
            # Each path status reported differs in content from the index (it compares
            # the content of files whose stat changed): their number is the files changed.
            changed = len(paths)
        else:
            changed = None  # ignored files that are included are passed every time
        # Nothing updated in the index that built `previous`: the tree is that one again.
        tree = previous if previous and not paths else self.runner.text(*WRITE_TREE)
        self._last_built = (tree, _file_signature(self.storage.private_index))
        self._last_skipped = skipped
        return tree, skipped, changed

    def _base(self) -> str | None:
        return None if self.storage.shadow else self.runner.rev("HEAD^{commit}")

    def _previous_tree(self) -> str | None:
        """The last tree built here, if the private index is as that build left it."""
        if self._last_built is None:
            return None
        tree, signature = self._last_built
        untouched = signature is not None and signature == _file_signature(
            self.storage.private_index
        )
        return tree if untouched else None

    # ---- the private index ----------------------------------------------------------

    def _seed_private_index(self, base: str | None) -> str | None:
        """Copy the user's index when it changed since the last seed; its staged commit."""
        user_index = self.storage.user_index
        signature = _file_signature(user_index)
        seed = _read_json(self.storage.seed_file)
        fresh = time.time() - seed.get("seeded_at", 0) < SEED_MAX_AGE_S
        self._seeded_from = signature  # what the private index holds after this, either way
        if self.storage.private_index.exists() and seed.get("signature") == signature and fresh:
            return seed.get("index_commit")
        private = self.storage.private_index
        if signature is not None and user_index is not None:
            # copy2 keeps the mtime: git's racy-entry check compares entries with it.
            copy_atomically(user_index, private)
        elif not self.storage.shadow:
            private.unlink(missing_ok=True)  # an empty repository: start from nothing
        index_commit = self._staged_commit(base) if signature is not None else None
        record = {"signature": signature, "index_commit": index_commit, "seeded_at": time.time()}
        self.storage.seed_file.write_text(json.dumps(record))
        return index_commit

    def _staged_commit(self, base: str | None) -> str | None:
        """A commit of the user's staged content when it differs from HEAD, else None."""
        try:
            staged = self.runner.text("write-tree")
        except CheckpointError:
            return None  # unmerged entries (a conflict): the work tree holds the content
        base_tree = self.runner.rev(f"{base}^{{tree}}") if base else EMPTY_TREE
        if staged == base_tree:
            return None
        parents = ("-p", base) if base else ()
        return self.runner.text("commit-tree", staged, *parents, "-m", "nanotui: staged changes")

    # ---- what changed ---------------------------------------------------------------

    def _take_feed(self) -> set[str] | None:
        """The paths the feed saw change, or None when the whole status must run."""
        if self._feed is None:
            return None
        try:
            if self._seeded_from != self._feed_seed:
                # A new seed: a folder git ignored may hold tracked files now.
                self._feed_seed = self._seeded_from
                self._feed.rewatch()
            told = self._feed.take()
        except (FeedUnavailable, CheckpointError, OSError):
            self._drop_feed()  # a watch could not be set: every snapshot runs the status
            return None
        if told is not None and any("\n" in path or "\r" in path for path in told):
            return None  # cat-file reads one path per line, and drops a closing \r
        return told

    def _paths_to_update(self) -> tuple[list[str], list[SkippedFile]]:
        candidates = changed_paths(self.runner.run(*STATUS_ARGS))
        if self.include:
            candidates += self._included_ignored_files()
        paths: list[str] = []
        skipped: list[SkippedFile] = []
        for path in dict.fromkeys(candidates):
            reason, size = self._reason_to_skip(path)
            if reason:
                skipped.append(SkippedFile(path.rstrip("/"), reason, size))
            else:
                paths.append(path)
        return paths, skipped

    def _included_ignored_files(self) -> list[str]:
        pathspecs = [f":(glob){pattern}" for pattern in self.include]
        out = self.runner.run(
            "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", *pathspecs
        )
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    def _reason_to_skip(self, path: str) -> tuple[str, int]:
        if path.endswith("/"):
            return "a nested repository (not descended into)", 0
        try:
            info = os.lstat(os.path.join(self.storage.root, path))
        except (FileNotFoundError, NotADirectoryError):
            return "", 0  # deleted (its folder may be a file now): update-index --remove
        if stat.S_ISDIR(info.st_mode):
            return "", 0  # a file became a folder: update-index drops the file
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            return "not a regular file", 0
        if stat.S_ISREG(info.st_mode) and info.st_size > self.max_file_bytes:
            return f"larger than the {human_size(self.max_file_bytes)} cap", info.st_size
        return "", 0


def changed_paths(status_output: bytes) -> list[str]:
    """Paths whose work-tree state differs from the index, from `status --porcelain=v2 -z`."""
    paths = []
    for record in status_output.split(b"\0"):
        if record.startswith(b"1 "):
            fields = record.split(b" ", 8)
            if fields[1][1:2] != b".":
                paths.append(os.fsdecode(fields[8]))
        elif record.startswith(b"u "):
            paths.append(os.fsdecode(record.split(b" ", 10)[10]))
        elif record.startswith(b"? "):
            paths.append(os.fsdecode(record[2:]))
    return paths


class FolderKinds:
    """Whether the folders on paths' ways are still folders, each looked at once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, bool | None] = {}

    def behind_symlink(self, path: str) -> bool:
        """Whether a folder on `path`'s way is a symlink or a file now (git stops there)."""
        for way in ways_to(path):
            kind = way_kind(self.root, way, self._seen)
            if kind is None:
                return False  # gone: update-index removes the file
            if not kind:
                return True
        return False


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def _file_signature(path: Path | None) -> list[int] | None:
    if path is None:
        return None
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
