"""Taking a snapshot: a tree of the whole work tree, built in nanotui's own index.

The private index starts as a copy of the user's index (whose stat cache makes unchanged
files free) and is kept between snapshots with git's untracked cache, so a snapshot costs
one `git status`, one `update-index` over the paths that changed, and a `write-tree` (none
when nothing changed). Where the kernel can tell which files changed (`ChangeFeed`), the
status is left out too: git is asked only which of those paths it tracks or ignores. The
user's index, HEAD, refs and stash are only ever read.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nanotui.protocol.atomic_write import copy_atomically
from nanotui.protocol.checkpoints import CheckpointError, SkippedFile
from nanotui.vcs.change_feed import ChangeFeed, FeedUnavailable
from nanotui.vcs.gitrunner import GitRunner
from nanotui.vcs.location import Storage

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

ADD_TO_INDEX = (
    # Every blob over this threshold goes into one pack per command (git's bulk check-in)
    # instead of a loose object each: hundreds of new files cost one file write, not hundreds.
    "-c",
    "core.bigFileThreshold=1",
    *UNTRACKED_CACHE,
    "update-index",
    "--add",
    "--remove",
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
        self._feed_seed: list[int] | None = None
        """The user's index the feed chose its folders by (its ignored folders)."""

    def watch_changes(self) -> bool:
        """Have the kernel tell later snapshots which files changed (Linux), so they need
        not look at every file; False where it cannot (they then run the whole status)."""
        if self._feed is not None:
            return True
        if self.include:
            return False  # included ignored files are looked for by a listing every time
        try:
            self._feed_seed = _file_signature(self.storage.user_index)
            self._feed = ChangeFeed(self.storage.root, self._ignored_folders, self._rule_files())
        except (FeedUnavailable, CheckpointError, OSError):
            return False
        return True

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def build(self) -> TreeSnapshot:
        with locked(self.storage.lock_file):
            base = None if self.storage.shadow else self.runner.rev("HEAD^{commit}")
            index_commit = self._seed_private_index(base)
            previous = self._previous_tree()  # after seeding: a fresh seed is not that index
            told = self._take_feed()
            found = self._paths_told(told) if previous is not None and told is not None else None
            paths, skipped = found if found is not None else self._paths_to_update()
            # update-index refuses a path behind a symlink; such a file is gone all the same.
            behind = [p for p in paths if _behind_symlink(self.storage.root, p)]
            if behind:
                self.runner.run(*FORCE_REMOVE, stdin=_nul(behind))
            rest = [p for p in paths if p not in set(behind)]
            if rest:
                self.runner.run(*ADD_TO_INDEX, stdin=_nul(rest))
            # Nothing updated in the index that built `previous`: the tree is that one again.
            tree = previous if previous and not paths else self.runner.text(*WRITE_TREE)
            self._last_built = (tree, _file_signature(self.storage.private_index))
            self._last_skipped = skipped
        # Each path status reported differs in content from the index (it compares the
        # content of files whose stat changed), so their number is the files that changed.
        # Ignored files that are included are passed every time, changed or not; a path the
        # feed told of may have been written with the same bytes.
        known = previous is not None and not self.include and found is None
        return TreeSnapshot(
            tree,
            base,
            index_commit,
            tuple(skipped),
            previous_tree=previous if known else None,
            changed=len(paths) if known else 0,
        )

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
        seed = _file_signature(self.storage.user_index)
        try:
            if seed != self._feed_seed:
                # The user's index changed: a folder git ignored may hold tracked files now.
                self._feed_seed = seed
                self._feed.rewatch()
            told = self._feed.take()
        except (FeedUnavailable, CheckpointError, OSError):
            self.close()  # a watch could not be set: every snapshot runs the status again
            return None
        if told is not None and any("\n" in path for path in told):
            return None  # cat-file reads one path per line
        return told

    def _paths_told(self, told: set[str]) -> tuple[list[str], list[SkippedFile]] | None:
        """Of the paths the feed told of, those to update (what git ignores is left out);
        None when only the whole status can say (a new file in a nested repository)."""
        present = sorted(p for p in told if os.path.lexists(self.storage.root / p))
        ignored = self._ignored_untracked(present)
        if ignored is None:
            return None
        skipped = [s for s in self._last_skipped if s.path not in told]  # still as they were
        paths: list[str] = []
        for path in sorted(told):
            if path in ignored:
                continue
            reason, size = self._reason_to_skip(path)
            if reason:
                skipped.append(SkippedFile(path, reason, size))
            else:
                paths.append(path)
        return paths, skipped

    def _ignored_untracked(self, paths: list[str]) -> set[str] | None:
        """Which of `paths` (all present) are untracked and ignored, as status would leave
        them out: the private index says which it tracks (a lookup each, not a listing).
        None when one is untracked below a folder holding a `.git` (status may or may not
        look inside, as that folder is tracked or not)."""
        if not paths:
            return set()
        lookups = "".join(f":0:{path}\n" for path in paths).encode("utf-8", "surrogateescape")
        answers = self.runner.run("cat-file", "--batch-check=%(objectname)", stdin=lookups)
        lines = answers.decode("utf-8", "surrogateescape").splitlines()
        untracked = [p for p, line in zip(paths, lines, strict=True) if line.endswith(" missing")]
        if not untracked:
            return set()
        if any(_below_a_repository(self.storage.root, path) for path in untracked):
            return None
        # --no-index: the index is not read (only untracked paths are asked about), which
        # also spares a walk over the whole index for every path.
        out = self.runner.run(
            "check-ignore", "--no-index", "-z", "--stdin", stdin=_nul(untracked), ok_codes=(0, 1)
        )
        return {os.fsdecode(p) for p in out.split(b"\0") if p}

    def _ignored_folders(self, folder: str | None) -> set[str]:
        """Folders git ignores as a whole (under `folder`, or anywhere): the feed skips them.

        Asked of the user's index, which the private one is seeded from: a folder holding a
        tracked file is not ignored as a whole."""
        pathspec = ("--", f":(literal){folder}") if folder else ()
        out = self.runner.run(
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--directory",
            *pathspec,
            index=self.storage.user_index,
        )
        return {os.fsdecode(p[:-1]) for p in out.split(b"\0") if p.endswith(b"/")}

    def _rule_files(self) -> list[Path]:
        """The ignore rules outside the work tree: info/exclude and the global excludes."""
        exclude = self.runner.text("rev-parse", "--git-path", "info/exclude")
        files = [self.storage.root / exclude]
        configured = self.runner.run("config", "--path", "core.excludesFile", ok_codes=(0, 1))
        if configured.strip():
            files.append(Path(os.fsdecode(configured.strip())))
        else:
            xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
            files.append(Path(xdg) / "git" / "ignore")
        return files

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
            info = (self.storage.root / path).lstat()
        except FileNotFoundError:
            return "", 0  # deleted: update-index --remove records that
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


def _nul(paths: list[str]) -> bytes:
    return b"".join(os.fsencode(path) + b"\0" for path in paths)


def _below_a_repository(root: Path, path: str) -> bool:
    """Whether a folder on `path`'s way (below the root) holds a `.git`."""
    parts = path.split("/")[:-1]
    return any(
        os.path.lexists(root.joinpath(*parts[: depth + 1], ".git")) for depth in range(len(parts))
    )


def _behind_symlink(root: Path, path: str) -> bool:
    """Whether a folder on `path`'s way is a symlink or a file now (git stops there)."""
    parts = path.split("/")[:-1]
    current = root
    for part in parts:
        current = current / part
        try:
            if not stat.S_ISDIR(current.lstat().st_mode):
                return True
        except FileNotFoundError:
            return False
    return False


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """One snapshot at a time per work tree (across processes): they share the private index."""
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
