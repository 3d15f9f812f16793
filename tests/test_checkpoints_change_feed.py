"""Snapshots told by the kernel which files changed: the same trees as the whole `git status`.

Every test runs real changes in a real repository and compares the tree a builder with the
change feed makes with the tree of a second builder (its own private index) that runs the
whole status every time, and checks which of the two ways the feed's builder took.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from folder_watch_support import refuse_listing
from test_checkpoints_helpers import git, isolate, make_repo, write_files

from nanotui.config import CheckpointsConfig
from nanotui.engine.safety_net import SafetyNet
from nanotui.protocol import folder_watch
from nanotui.protocol.checkpoints import CheckpointError
from nanotui.protocol.events import CheckpointCreated
from nanotui.vcs import change_feed, snapshot
from nanotui.vcs.checkpoints import Checkpoints
from nanotui.vcs.gitrunner import GitRunner
from nanotui.vcs.snapshot import TreeBuilder


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files: dict[str, str | bytes] = {
        f"src/pkg{k}/mod{n}.py": f"v = {n}\n" for k in range(4) for n in range(5)
    }
    files |= {
        ".gitignore": "build/\ncache/\n*.log\n!keep.log\n",
        "README.md": "hello\n",
        "run.sh": "#!/bin/sh\n",
        "keep.log": "tracked although it looks ignored\n",
    }
    root = make_repo(tmp_path / "repo", files)
    write_files(root, {"forced.log": "tracked though ignored\n"})
    git(root, "add", "-f", "forced.log")
    git(root, "commit", "-q", "-m", "a tracked file the rules ignore")
    return root


class Pair:
    """The builder under test (feed on) and a reference that runs the whole status."""

    def __init__(self, root: Path, tmp_path: Path) -> None:
        self.checkpoints = Checkpoints(root, "feed", max_file_bytes=1 << 20)
        self.builder = self.checkpoints.builder
        assert self.builder.watch_changes(), "the feed should start on a local file system"
        storage = replace(self.builder.storage, private_index=tmp_path / "reference.index")
        self.runner = GitRunner(storage.git_dir, storage.root, storage.private_index)
        self.reference = TreeBuilder(storage, self.runner, max_file_bytes=1 << 20)
        self.statuses = 0
        self.counted = 0
        self.root = root
        original = self.builder._paths_to_update

        def counting() -> tuple[list[str], list[snapshot.SkippedFile]]:
            self.statuses += 1
            return original()

        self.builder._paths_to_update = counting  # type: ignore[method-assign]

    def compare(self) -> bool:
        """Both trees after the same changes; True when the feed spared the status."""
        before = self.statuses
        built = self.builder.build()
        wanted = self.reference.build()
        assert built.tree == wanted.tree
        assert sorted(s.path for s in built.skipped) == sorted(s.path for s in wanted.skipped)
        if built.previous_tree is not None:  # the builder counted: as a diff of the trees does
            diff = git(self.root, "diff-tree", "-r", "--name-only", built.previous_tree, built.tree)
            assert built.changed == len(diff.splitlines())
            self.counted += 1
        return self.statuses == before

    def close(self) -> None:
        self.checkpoints.close()
        self.runner.close()


@pytest.fixture
def pair(repo: Path, tmp_path: Path):
    both = Pair(repo, tmp_path)
    yield both
    both.close()


def test_edits_new_files_deletions_modes_and_links_make_the_status_tree(
    repo: Path, pair: Pair
) -> None:
    assert not pair.compare()  # the first snapshot is the feed's starting point
    assert pair.builder._feed is not None
    watched = pair.builder._feed._watch.watched()
    assert "src/pkg0" in watched and not [f for f in watched if f.split("/")[0] == ".git"]
    write_files(repo, {"src/pkg0/mod1.py": "changed\n", "src/pkg1/new.py": "new\n"})
    (repo / "src/pkg2/mod3.py").unlink()
    (repo / "run.sh").chmod(0o755)
    os.symlink("README.md", repo / "src/pkg3/link")
    assert pair.compare()
    # Ignored files, a file in an ignored folder, a tracked file that looks ignored.
    (repo / "build").mkdir()
    assert not pair.compare()  # a new folder: its files may predate its watch
    write_files(repo, {"build/out.o": "x", "trace.log": "x", "keep.log": "edited\n"})
    write_files(repo, {"forced.log": "edited, still tracked\n"})
    write_files(repo, {"src/pkg0/debug.log": "x"})
    assert pair.compare()
    # A rename, an atomic save over a tracked file, an edit to the same bytes.
    os.rename(repo / "src/pkg0/mod2.py", repo / "src/pkg1/moved.py")
    (repo / "src/pkg1/.mod0.tmp").write_text("saved atomically\n")
    os.replace(repo / "src/pkg1/.mod0.tmp", repo / "src/pkg1/mod0.py")
    (repo / "README.md").write_text("hello\n")
    assert pair.compare()
    assert pair.compare()  # nothing changed: no status either
    # A file over the size cap stays listed as left out while other files change.
    write_files(repo, {"big.bin": b"x" * (2 << 20)})
    assert pair.compare()
    write_files(repo, {"README.md": "after the big file\n"})
    assert pair.compare()
    assert [s.path for s in pair.builder._last_skipped] == ["big.bin"]


def test_random_changes_keep_the_trees_equal(repo: Path, pair: Pair) -> None:
    pair.compare()
    chooser = random.Random(7)
    spared = 0
    for round_number in range(12):
        files = sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
        for _ in range(chooser.randint(1, 8)):
            action = chooser.choice(["edit", "add", "delete", "chmod", "ignored", "mkdir"])
            target = chooser.choice(files)
            if action == "edit" and target.exists():
                target.write_text(f"round {round_number}\n")
            elif action == "add":
                (target.parent / f"r{round_number}-{chooser.randint(0, 99)}.txt").write_text("n")
            elif action == "delete" and target.exists():
                target.unlink()
            elif action == "chmod" and target.exists():
                target.chmod(0o755 if chooser.random() < 0.5 else 0o644)
            elif action == "ignored":
                (target.parent / f"r{round_number}.log").write_text("ignored")
            elif action == "mkdir":
                folder = target.parent / f"d{round_number}"
                folder.mkdir(exist_ok=True)
                (folder / "inside.py").write_text("x")
        spared += pair.compare()
    assert spared >= 4, "the feed should have spared most of the statuses"
    assert pair.counted >= 4


def test_writes_from_inside_the_bwrap_sandbox_are_seen(repo: Path, pair: Pair) -> None:
    from sandbox_support import runner_for

    pair.compare()
    runner = runner_for("bwrap", repo)
    command = "echo sandboxed >> src/pkg0/mod0.py && echo new > src/pkg1/from_sandbox.py"
    result = asyncio.run(runner.run(command, cwd=repo, timeout_s=30, max_output_bytes=10_000))
    assert result.exit_code == 0, result
    assert pair.compare()
    tree = pair.builder._last_built[0]
    shown = git(repo, "cat-file", "-p", f"{tree}:src/pkg1/from_sandbox.py")
    assert shown == "new\n"


def test_a_lost_event_queue_falls_back_to_the_whole_status(repo: Path, pair: Pair) -> None:
    pair.compare()
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    # Writes to two files in turn: the kernel merges only an event equal to the last one.
    with (repo / "src/pkg0/mod0.py").open("a") as one, (repo / "src/pkg0/mod1.py").open("a") as two:
        for _ in range(limit // 2 + 100):
            one.write("a")
            one.flush()
            two.write("b")
            two.flush()
    write_files(repo, {"src/pkg2/after.py": "after the overflow\n"})
    assert not pair.compare()
    write_files(repo, {"src/pkg3/later.py": "seen by the feed again\n"})
    assert pair.compare()


def test_files_below_a_nested_repository_are_taken_as_the_status_takes_them(
    repo: Path, pair: Pair
) -> None:
    pair.compare()
    # A folder of tracked files becomes a repository of its own: status still looks inside.
    subprocess.run(["git", "init", "-q", str(repo / "src/pkg1")], check=True)
    assert not pair.compare()
    write_files(repo, {"src/pkg1/mod0.py": "tracked, edited\n"})
    assert pair.compare()  # a tracked file: the lookup in the index says so
    write_files(repo, {"src/pkg1/inside_nested.py": "x\n"})
    assert not pair.compare()  # new there: only the status knows whether it looks inside
    # A new repository nobody tracks: left out whole, as the status leaves it.
    subprocess.run(["git", "init", "-q", str(repo / "vendor/lib")], check=True)
    write_files(repo, {"vendor/lib/code.py": "x\n"})
    assert not pair.compare()
    write_files(repo, {"vendor/lib/more.py": "x\n"})
    assert not pair.compare()
    assert "vendor/lib" in [s.path for s in pair.builder._last_skipped]


def test_a_gitignore_change_and_a_force_added_file_are_followed(repo: Path, pair: Pair) -> None:
    write_files(repo, {"build/generated.py": "v1\n"})
    pair.compare()
    # The user tracks a file inside the ignored folder: the folder is watched from now on.
    git(repo, "add", "-f", "build/generated.py")
    assert not pair.compare()
    write_files(repo, {"build/generated.py": "v2\n"})
    assert pair.compare()
    # Un-ignoring the folder brings its other files in.
    write_files(repo, {"build/other.py": "x\n", "cache/first.py": "x\n"})
    assert not pair.compare()  # a new folder, ignored as a whole: not watched
    (repo / ".gitignore").write_text("*.log\n")
    assert not pair.compare()
    # A folder ignored as a whole was not watched; it is from now on.
    write_files(repo, {"build/third.py": "x\n", "cache/second.py": "x\n"})
    assert pair.compare()


def test_without_the_feed_every_snapshot_runs_the_status(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folder_watch, "MAX_FOLDERS", 2)
    with Checkpoints(repo, "s") as checkpoints:
        assert not checkpoints.builder.watch_changes()
    monkeypatch.setattr(folder_watch, "MAX_FOLDERS", 20_000)
    monkeypatch.setattr(change_feed, "FULL_STATUS_EVERY_S", 0.0)
    both = Pair(repo, tmp_path)
    try:
        both.compare()
        write_files(repo, {"README.md": "stale feeds are not trusted\n"})
        assert not both.compare()
    finally:
        both.close()


def test_the_safety_net_counts_only_files_that_really_changed(repo: Path) -> None:
    events: list[object] = []
    net = SafetyNet(repo, "net", CheckpointsConfig(), events.append)
    statuses: list[int] = []

    async def scenario() -> None:
        await net.prepare()
        builder = net.checkpoints().builder
        original = builder._paths_to_update

        def counting() -> tuple[list[str], list[snapshot.SkippedFile]]:
            statuses.append(1)
            return original()

        builder._paths_to_update = counting  # type: ignore[method-assign]
        await net.before_batch(["first"])
        write_files(repo, {"README.md": "changed\n", "src/pkg0/new.py": "x\n"})
        (repo / "src/pkg1/mod0.py").write_text("v = 0\n")  # the same bytes again
        await net.before_batch(["second"])
        (repo / "run.sh").chmod(0o755)  # its mode alone
        await net.before_batch(["third"])
        write_files(repo, {"src/pkg2/mod0.py": "new bytes\n"})
        (repo / "src/pkg3/mod0.py").unlink()
        await net.before_batch(["fourth"])

    try:
        asyncio.run(scenario())
    finally:
        net.close()
    created = [e for e in events if isinstance(e, CheckpointCreated)]
    assert [e.files for e in created] == [0, 2, 1, 2]
    assert statuses == [], "only the session's warm-up should have run the whole status"


def test_a_folder_whose_files_are_all_ignored_today_is_still_watched(
    repo: Path, pair: Pair
) -> None:
    write_files(repo, {"logs/run.log": "ignored by *.log\n"})
    pair.compare()
    write_files(repo, {"logs/summary.md": "not ignored\n"})
    assert pair.compare()


def test_files_taken_in_before_their_folder_was_ignored_are_still_followed(
    repo: Path, pair: Pair
) -> None:
    write_files(repo, {".venv/lib/site.py": "v1\n"})
    pair.compare()  # taken into the checkpoints' index while nothing ignored .venv
    (repo / ".gitignore").write_text("build/\ncache/\n*.log\n!keep.log\n.venv/\n")
    assert not pair.compare()
    write_files(repo, {".venv/lib/site.py": "v2\n"})
    assert pair.compare()
    (repo / ".venv/lib/site.py").unlink()
    assert pair.compare()


def test_skip_worktree_and_assume_unchanged_entries_stay_as_status_leaves_them(
    repo: Path, pair: Pair
) -> None:
    git(repo, "update-index", "--skip-worktree", "src/pkg0/mod0.py")
    git(repo, "update-index", "--assume-unchanged", "src/pkg0/mod1.py")
    pair.compare()
    write_files(repo, {"src/pkg0/mod0.py": "local\n", "src/pkg0/mod1.py": "local\n"})
    write_files(repo, {"README.md": "a real change\n"})
    assert pair.compare()  # and the count is the tree diff's (see compare)


def test_paths_told_of_by_a_failed_snapshot_are_looked_at_again(
    repo: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.compare()
    write_files(repo, {"src/pkg0/mod0.py": "lost if forgotten\n"})
    runner = pair.builder.runner
    original = runner.run

    def failing_once(*args: str, **options: object) -> bytes:
        if "update-index" in args:
            monkeypatch.setattr(runner, "run", original)
            raise CheckpointError("git update-index failed (disk full).")
        return original(*args, **options)

    monkeypatch.setattr(runner, "run", failing_once)
    with pytest.raises(CheckpointError):
        pair.builder.build()
    assert not pair.compare()  # the whole status again, and the edit is in the tree


def test_hard_links_inside_the_tree_and_odd_names_fall_back_to_the_status(
    repo: Path, pair: Pair
) -> None:
    os.link(repo / "src/pkg0/mod0.py", repo / "src/pkg1/linked.py")
    write_files(repo, {'"quoted"': "x\n", "line\rend": "y\n"})
    pair.compare()
    with (repo / "src/pkg1/linked.py").open("a") as other_name:
        other_name.write("written through the other name\n")
    assert not pair.compare()
    write_files(repo, {"line\rend": "edited\n", '"quoted"': "edited\n"})
    assert not pair.compare()
    write_files(repo, {'"quoted"': "edited again\n"})
    assert pair.compare()


def test_an_unreadable_folder_gives_the_session_the_whole_status(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_listing(monkeypatch, repo / "src" / "pkg2")
    both = Pair(repo, tmp_path)
    try:
        both.compare()
        assert both.builder._feed is None, "watches need read permission; git does not"
        write_files(repo, {"src/pkg2/mod0.py": "edited where no watch reaches\n"})
        assert not both.compare()
    finally:
        both.close()


def test_a_feed_that_fails_is_dropped_without_stopping_the_snapshot(
    repo: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.compare()
    assert pair.builder._feed is not None
    monkeypatch.setattr(folder_watch, "MAX_FOLDERS", len(pair.builder._feed._watch.watched()))
    write_files(repo, {"newpkg/a.py": "a new folder past the watch limit\n"})
    building = threading.Thread(target=pair.compare, daemon=True)
    building.start()
    building.join(timeout=30)
    assert not building.is_alive(), "the build must not wait on itself"
    assert pair.builder._feed is None
    write_files(repo, {"newpkg/b.py": "after\n"})
    assert not pair.compare()


def test_closing_does_not_wait_for_a_build_on_another_thread(
    repo: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.compare()
    runner = pair.builder.runner
    original = runner.run
    in_write_tree, closed = threading.Event(), threading.Event()

    def held(*args: str, **options: object) -> bytes:
        if "write-tree" in args:
            in_write_tree.set()
            closed.wait(60)  # the build goes on only once closing has returned
        return original(*args, **options)

    monkeypatch.setattr(runner, "run", held)
    write_files(repo, {"README.md": "a held snapshot\n"})
    building = threading.Thread(target=pair.builder.build, daemon=True)
    building.start()
    assert in_write_tree.wait(30)
    # Closing runs on the event loop: were it to wait for the build, it would wait for ever.
    closing = threading.Thread(target=lambda: (pair.builder.close(), closed.set()), daemon=True)
    closing.start()
    closing.join(timeout=30)
    assert closed.is_set(), "closing waited for the build"
    building.join(timeout=30)
    assert pair.builder._feed is None, "the build stops the feed as it ends"


def test_a_folder_rule_that_ignores_only_its_contents_keeps_the_folder_watched(
    repo: Path, pair: Pair
) -> None:
    (repo / ".gitignore").write_text("logs/*\n!logs/README.md\n")
    write_files(repo, {"logs/run.txt": "ignored\n"})
    pair.compare()
    pair.compare()
    write_files(repo, {"logs/README.md": "brought back by the negation\n"})
    assert pair.compare()


def test_names_with_line_separators_other_than_newline_are_looked_up_whole(
    repo: Path, pair: Pair
) -> None:
    pair.compare()
    write_files(repo, {"a\vb": "x\n", "c\x1ed": "y\n", "e\u2028f": "z\n"})
    assert pair.compare()
    write_files(repo, {"a\vb": "edited\n"})
    assert pair.compare()


def test_a_tracked_folder_replaced_by_a_file_is_snapshotted(repo: Path, pair: Pair) -> None:
    pair.compare()
    for child in (repo / "src/pkg3").iterdir():
        child.unlink()
    (repo / "src/pkg3").rmdir()
    (repo / "src/pkg3").write_text("a file now\n")
    assert not pair.compare()
