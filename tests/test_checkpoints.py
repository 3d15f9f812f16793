"""Checkpoints in real repositories: what a snapshot holds, and restoring it exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_checkpoints_helpers import git, isolate, make_repo, read_state, write_files

from nanotui.protocol.checkpoints import CheckpointError
from nanotui.vcs.checkpoints import Checkpoints
from nanotui.vcs.snapshot import BULK_CHECK_IN_FROM

BINARY = bytes(range(256)) * 8


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(
        tmp_path / "repo",
        {
            "README.md": "hello\n",
            "src/app.py": "print('app')\n",
            "src/util.py": "def util():\n    return 1\n",
            "old_name.txt": "moved soon\n",
            "gone.txt": "deleted soon\n",
            "image.bin": BINARY,
            "run.sh": "#!/bin/sh\necho hi\n",
        },
    )
    os.symlink("README.md", root / "readme-link")
    git(root, "add", "readme-link")
    git(root, "commit", "-q", "-m", "link")
    return root


def user_changes_of_every_kind(root: Path) -> None:
    """Staged, unstaged, staged-then-edited, untracked, deleted, renamed, binary, modes, links."""
    write_files(root, {"src/app.py": "print('staged')\n"})
    git(root, "add", "src/app.py")
    write_files(root, {"src/app.py": "print('staged, then edited')\n"})
    write_files(root, {"src/util.py": "def util():\n    return 2\n"})
    write_files(root, {"notes/todo.txt": "untracked\n", "image.bin": BINARY[::-1]})
    git(root, "mv", "old_name.txt", "new_name.txt")
    (root / "gone.txt").unlink()
    (root / "run.sh").chmod(0o755)
    (root / "readme-link").unlink()
    os.symlink("src/app.py", root / "readme-link")
    os.symlink("notes", root / "notes-link")


def agent_mess(root: Path) -> list[str]:
    """Writes, creates and deletes files the way an agent turn might; the paths it created."""
    write_files(root, {"src/app.py": "broken\n", "README.md": "rewritten\n", "image.bin": b"x"})
    write_files(root, {"src/new_module.py": "x = 1\n", "build/out.txt": "artifact\n"})
    (root / "src" / "util.py").unlink()
    (root / "notes" / "todo.txt").unlink()
    (root / "run.sh").chmod(0o644)
    (root / "notes-link").unlink()
    return ["src/new_module.py", "build/out.txt"]


def test_every_kind_of_change_round_trips_exactly(repo: Path) -> None:
    user_changes_of_every_kind(repo)
    before = read_state(repo)
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("before the turn", turn=1)
    created = agent_mess(repo)

    result = checkpoints.restore(checkpoint.id, created_by_agent=created)

    assert read_state(repo) == before
    assert sorted(result.removed) == sorted(created)
    assert result.left_in_place == [] and result.not_restored == []
    assert not (repo / "build").exists()  # the folder the agent made went with its file


def test_snapshot_keeps_the_staged_content_that_differs_from_the_work_tree(repo: Path) -> None:
    user_changes_of_every_kind(repo)
    checkpoint = Checkpoints(repo, "s1").snapshot("staged")

    assert checkpoint.index_commit is not None
    staged = git(repo, "show", f"{checkpoint.index_commit}:src/app.py")
    assert staged == "print('staged')\n"
    assert git(repo, "show", f"{checkpoint.commit}:src/app.py") == "print('staged, then edited')\n"


def test_restore_leaves_files_nanotui_did_not_create_and_lists_them(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("start")
    write_files(repo, {"mine.txt": "the user made this\n", "agent.txt": "the agent made this\n"})

    result = checkpoints.restore(checkpoint, created_by_agent=["agent.txt"])

    assert result.left_in_place == ["mine.txt"]
    assert result.removed == ["agent.txt"]
    assert (repo / "mine.txt").read_text() == "the user made this\n"


def test_single_file_restore_touches_only_that_file(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("start")
    write_files(repo, {"README.md": "agent\n", "src/app.py": "agent\n"})

    result = checkpoints.restore(checkpoint, files=["README.md"])

    assert result.restored == ["README.md"]
    assert (repo / "README.md").read_text() == "hello\n"
    assert (repo / "src/app.py").read_text() == "agent\n"


def test_restore_of_a_path_that_never_existed_is_refused(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("start")
    with pytest.raises(CheckpointError, match="neither in checkpoint"):
        checkpoints.restore(checkpoint, files=["no/such/file.txt"])


def test_user_edit_after_the_checkpoint_survives_in_the_safety_checkpoint(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("start")
    write_files(repo, {"src/util.py": "the user's later edit\n"})

    result = checkpoints.restore(checkpoint)

    assert (repo / "src/util.py").read_text() == "def util():\n    return 1\n"
    safety = result.safety_checkpoint
    assert safety is not None and safety.kind == "safety"
    assert git(repo, "show", f"{safety.commit}:src/util.py") == "the user's later edit\n"
    checkpoints.restore(safety.id)
    assert (repo / "src/util.py").read_text() == "the user's later edit\n"


def test_restore_keeps_the_permissions_of_existing_files(repo: Path) -> None:
    (repo / "README.md").chmod(0o600)
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("start")
    write_files(repo, {"README.md": "agent\n"})

    checkpoints.restore(checkpoint)

    assert (repo / "README.md").stat().st_mode & 0o777 == 0o600


def test_restore_does_not_follow_a_folder_replaced_by_a_symlink(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    checkpoints = Checkpoints(repo, "s1")
    checkpoint = checkpoints.snapshot("start")
    for name in os.listdir(repo / "src"):
        (repo / "src" / name).unlink()
    (repo / "src").rmdir()
    os.symlink(outside, repo / "src")

    result = checkpoints.restore(checkpoint)

    assert os.listdir(outside) == []
    assert {s.path for s in result.not_restored} == {"src/app.py", "src/util.py"}


def test_ignored_files_are_left_out_unless_included(repo: Path) -> None:
    write_files(repo, {".gitignore": "*.log\n", "debug.log": "noise\n", "keep.log": "wanted\n"})
    plain = Checkpoints(repo, "s1").snapshot("plain")
    included = Checkpoints(repo, "s2", include=["keep.log"]).snapshot("included")

    plain_files = git(repo, "ls-tree", "-r", "--name-only", plain.commit).split()
    included_files = git(repo, "ls-tree", "-r", "--name-only", included.commit).split()
    assert "debug.log" not in plain_files and "keep.log" not in plain_files
    assert "keep.log" in included_files and "debug.log" not in included_files


def test_large_files_are_left_out_listed_and_never_overwritten(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1", max_file_bytes=1000)
    write_files(repo, {"data/big.csv": "x" * 5000})
    checkpoint = checkpoints.snapshot("with a big file")
    assert [(s.path, s.size) for s in checkpoint.skipped] == [("data/big.csv", 5000)]
    assert "larger than" in checkpoint.skipped[0].reason
    write_files(repo, {"data/big.csv": "y" * 6000})

    result = checkpoints.restore(checkpoint, created_by_agent=["data/big.csv"])

    assert (repo / "data/big.csv").read_text() == "y" * 6000
    assert "data/big.csv" not in result.removed


def test_diff_counts_lines_between_checkpoints_and_against_the_work_tree(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    first = checkpoints.snapshot("first")
    write_files(repo, {"src/util.py": "def util():\n    return 3\n# more\n", "added.txt": "a\nb\n"})
    (repo / "gone.txt").unlink()
    second = checkpoints.snapshot("second")
    write_files(repo, {"image.bin": BINARY[:100]})

    between = {d.path: d for d in checkpoints.diff(first, second)}
    assert {p: (d.status, d.added, d.removed) for p, d in between.items()} == {
        "added.txt": ("A", 2, 0),
        "gone.txt": ("D", 0, 1),
        "src/util.py": ("M", 2, 1),
    }
    to_now = checkpoints.diff(second.id)
    assert [(d.path, d.status, d.binary) for d in to_now] == [("image.bin", "M", True)]
    assert "+# more" in checkpoints.patch(first, second)


def test_ids_resolve_by_full_id_short_id_and_unique_prefix(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "20261128-010623-3f9a")
    first = checkpoints.snapshot("one")
    for _ in range(10):
        checkpoints.snapshot("more")

    assert first.short_id == "3f9a/1"
    assert checkpoints.get("20261128-010623-3f9a/1") == first
    assert checkpoints.get("3f9a/1") == first
    assert checkpoints.get(first.commit[:10]) == first
    with pytest.raises(CheckpointError, match="more than one"):
        checkpoints.get("20261128")
    with pytest.raises(CheckpointError, match="No checkpoint matches"):
        checkpoints.get("nope/1")


def test_prune_keeps_the_last_n_per_session(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1", keep_last=3)
    made = [checkpoints.snapshot(f"turn {n}") for n in range(5)]
    other = Checkpoints(repo, "s2", keep_last=3).snapshot("other session")

    remaining = [c.id for c in checkpoints.list()]

    assert remaining == [c.id for c in made[2:]] + [other.id]
    deleted = checkpoints.prune(keep_last=1, max_age_days=30)
    assert [c.id for c in deleted] == [made[2].id, made[3].id]


def test_prune_drops_checkpoints_older_than_the_age_limit(repo: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from nanotui.vcs import refs

    checkpoints = Checkpoints(repo, "s1")
    made = checkpoints.snapshot("old")
    later = datetime.now(UTC) + timedelta(days=31)

    assert refs.expired(checkpoints.list(), keep_last=50, max_age_days=30, now=later) == [made]
    assert refs.expired(checkpoints.list(), keep_last=50, max_age_days=30) == []


def test_snapshot_during_a_merge_works_but_restore_is_refused(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    write_files(repo, {"README.md": "theirs\n"})
    git(repo, "commit", "-q", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    write_files(repo, {"README.md": "ours\n"})
    git(repo, "commit", "-q", "-am", "ours")
    git(repo, "merge", "other", check=False)  # conflicts
    checkpoints = Checkpoints(repo, "s1")

    checkpoint = checkpoints.snapshot("mid-merge")

    assert "<<<<<<<" in git(repo, "show", f"{checkpoint.commit}:README.md")
    with pytest.raises(CheckpointError, match="merge is in progress"):
        checkpoints.restore(checkpoint)


def test_detached_head_records_the_commit_as_base(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    head = git(repo, "rev-parse", "HEAD").strip()
    write_files(repo, {"README.md": "detached edit\n"})

    checkpoint = Checkpoints(repo, "s1").snapshot("detached")

    assert checkpoint.base == head
    assert git(repo, "show", f"{checkpoint.commit}:README.md") == "detached edit\n"


def test_the_builder_counts_the_files_a_snapshot_changed_as_the_diff_does(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    first = checkpoints.snapshot("first")
    agent_mess_without_staging = {"src/app.py": "changed\n", "new/file.txt": "new\n"}
    write_files(repo, agent_mess_without_staging)
    (repo / "gone.txt").unlink()
    (repo / "run.sh").chmod(0o755)
    os.utime(repo / "README.md", (1, 1))  # another mtime, the same content: not a change
    second = checkpoints.builder.build()
    assert second.previous_tree == first.tree
    recorded = checkpoints.record(second, "second", None, "turn")
    assert second.changed == len(checkpoints.diff(first, recorded)) == 4

    git(repo, "add", "src/app.py")  # the user stages: the private index starts over from theirs
    assert checkpoints.builder.build().previous_tree is None


def test_a_snapshot_stores_many_new_files_in_one_pack_not_one_object_each(repo: Path) -> None:
    checkpoints = Checkpoints(repo, "s1")
    checkpoints.snapshot("first")
    many = {f"many/file{n}.txt": f"content {n}\n" for n in range(BULK_CHECK_IN_FROM)}
    write_files(repo, many)
    loose_before = git(repo, "count-objects", "-v")
    checkpoints.snapshot("second")
    loose_after = git(repo, "count-objects", "-v")

    def loose(counts: str) -> int:
        return int(counts.split("count: ")[1].split()[0])

    # The blobs went into a pack; only the two trees and the commit are loose.
    assert loose(loose_after) - loose(loose_before) <= 3
