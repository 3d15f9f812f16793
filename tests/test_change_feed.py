"""Snapshots fed by the file watcher: they must hold every change a full scan would.

The real-watcher tests compare each watched snapshot with the tree `git add -A` makes of the
same work tree in a throwaway index. The feed tests drive `ChangeFeed` by hand, with a mark
reported the moment it is made, to show what the feed trusts and when it stops trusting.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from test_checkpoints_helpers import git, isolate, make_repo, write_files

from nanotui.engine.external_changes import ChangeAttribution, WorkspaceWatcher
from nanotui.vcs import change_feed
from nanotui.vcs.change_feed import ChangeFeed
from nanotui.vcs.checkpoints import Checkpoints

WAIT_S = 5.0


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {f"pkg{n}/module{k}.py": f"value = {n * 10 + k}\n" for n in range(3) for k in range(3)}
    return make_repo(tmp_path / "repo", {**files, ".gitignore": "*.log\n"})


def full_scan_tree(root: Path) -> str:
    """The work tree as `git add -A` sees it, in a throwaway index."""
    index = root.parent / "scan-index"
    index.unlink(missing_ok=True)
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
    done = subprocess.run(
        ["git", "write-tree"], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


async def watched(root: Path) -> tuple[Checkpoints, WorkspaceWatcher, asyncio.Task]:
    checkpoints = Checkpoints(root, "s1")
    feed = ChangeFeed(root)
    checkpoints.builder.feed = feed
    watcher = WorkspaceWatcher(root, ChangeAttribution(root), feed=feed)

    async def drain() -> None:
        async for _ in watcher.events():
            pass

    task = asyncio.create_task(drain())
    await asyncio.wait_for(watcher.watching.wait(), WAIT_S)
    await asyncio.sleep(0)  # the feed goes live on the loop's next turn
    assert feed.live
    return checkpoints, watcher, task


async def test_a_watched_snapshot_holds_every_kind_of_change(repo: Path) -> None:
    checkpoints, watcher, task = await watched(repo)
    try:
        await asyncio.to_thread(checkpoints.snapshot, "first")  # a full scan gives the token
        write_files(repo, {"pkg0/module0.py": "changed\n", "new/deep/file.txt": "new\n"})
        write_files(repo, {"debug.log": "ignored\n"})
        (repo / "pkg1" / "module1.py").unlink()
        (repo / "pkg2").rename(repo / "pkg2-renamed")  # only the folder is reported
        (repo / "pkg0" / "module2.py").chmod(0o755)
        os.makedirs(repo / "made" / "at" / "once")
        (repo / "made" / "at" / "once" / "inside.txt").write_text("maybe unseen\n")
        before = checkpoints.builder.feed.passes_fed

        second = await asyncio.to_thread(checkpoints.snapshot, "second")

        assert checkpoints.builder.feed.passes_fed > before  # the watcher fed this one
        assert second.tree == full_scan_tree(repo)
    finally:
        watcher.stop()
        await task
        checkpoints.close()


async def test_a_change_made_just_before_the_snapshot_is_in_it(repo: Path) -> None:
    checkpoints, watcher, task = await watched(repo)
    try:
        await asyncio.to_thread(checkpoints.snapshot, "first")
        for round_number in range(3):
            # No pause: the watcher may not have reported the edit when the snapshot starts.
            write_files(repo, {"pkg0/module1.py": f"round {round_number}\n"})
            snap = await asyncio.to_thread(checkpoints.snapshot, f"round {round_number}")
            assert snap.tree == full_scan_tree(repo)
        assert checkpoints.builder.feed.passes_fed >= 3
    finally:
        watcher.stop()
        await task
        checkpoints.close()


def instantly_watched(checkpoints: Checkpoints, monkeypatch: pytest.MonkeyPatch) -> ChangeFeed:
    """A feed whose stand-in watcher reports the snapshot's mark the moment it is made."""
    feed = checkpoints.builder.feed = ChangeFeed(checkpoints.root)
    monkeypatch.setattr(feed, "_touch_root", lambda: feed.saw([], marked=True))
    feed.watching()
    return feed


def test_the_feed_is_trusted_until_it_overflows(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = Checkpoints(repo, "s1")
    feed = instantly_watched(checkpoints, monkeypatch)
    checkpoints.snapshot("first")
    write_files(repo, {"pkg0/module0.py": "told\n", "pkg1/module0.py": "never told\n"})
    feed.saw(["pkg0/module0.py"])

    trusted = checkpoints.snapshot("trusted")  # git looks only where the feed says

    assert git(repo, "show", f"{trusted.commit}:pkg0/module0.py") == "told\n"
    assert git(repo, "show", f"{trusted.commit}:pkg1/module0.py") == "value = 10\n"

    feed.saw(f"noise/{n}" for n in range(change_feed.MAX_PATHS + 1))  # may have overflowed
    after = checkpoints.snapshot("after the overflow")

    assert git(repo, "show", f"{after.commit}:pkg1/module0.py") == "never told\n"
    assert after.tree == full_scan_tree(repo)


def test_a_lost_watcher_or_another_writer_of_the_index_means_a_full_scan(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = Checkpoints(repo, "s1")
    feed = instantly_watched(checkpoints, monkeypatch)
    checkpoints.snapshot("first")

    write_files(repo, {"pkg1/module0.py": "unseen 1\n"})
    feed.lost()
    assert checkpoints.snapshot("lost").tree == full_scan_tree(repo)

    feed.watching()
    checkpoints.snapshot("a token again")
    write_files(repo, {"pkg1/module1.py": "unseen 2\n"})
    # Another engine (no feed) writes the private index: its token is gone.
    Checkpoints(repo, "other").snapshot("elsewhere")
    write_files(repo, {"pkg1/module2.py": "unseen 3\n"})
    assert checkpoints.snapshot("after").tree == full_scan_tree(repo)


async def test_a_watcher_that_cannot_start_never_turns_the_feed_on(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    feed = ChangeFeed(gone)
    watcher = WorkspaceWatcher(gone, ChangeAttribution(gone), feed=feed)
    notices = 0
    async for _ in watcher.events():
        notices += 1
        await asyncio.sleep(0)  # what was scheduled when the watcher was being made runs
        assert not feed.live
    assert notices == 1
