"""The private index kept between snapshots: trees it reuses, engines that share it, numbering."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_checkpoints_helpers import git, isolate, make_repo, write_files

from nanotui.vcs.checkpoints import Checkpoints


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.txt": "a\n", "lib/b.py": "b = 1\n"})


def test_a_quiet_snapshot_has_the_changes_another_engine_put_in_the_shared_index(
    repo: Path,
) -> None:
    # Both engines snapshot the same work tree, so they share one private index: the second
    # one's update leaves nothing for the first one's status to report, and the first must not
    # take that for "nothing changed since my last tree".
    mine, other = Checkpoints(repo, "s1"), Checkpoints(repo, "s2")
    before = mine.snapshot("before")
    write_files(repo, {"a.txt": "changed\n", "new/c.txt": "new\n"})
    theirs = other.snapshot("theirs")

    quiet = mine.builder.build()

    assert quiet.tree == theirs.tree != before.tree
    assert git(repo, "show", f"{quiet.tree}:new/c.txt") == "new\n"


def test_a_snapshot_with_nothing_changed_keeps_the_tree_and_the_next_change_is_caught(
    repo: Path,
) -> None:
    checkpoints = Checkpoints(repo, "s1")
    first = checkpoints.builder.build()
    again = checkpoints.builder.build()
    assert again.tree == first.tree
    assert again.previous_tree == first.tree and again.changed == 0

    write_files(repo, {"lib/b.py": "b = 2\n"})
    (repo / "a.txt").chmod(0o755)
    after = checkpoints.builder.build()

    assert after.previous_tree == first.tree and after.changed == 2
    assert git(repo, "show", f"{after.tree}:lib/b.py") == "b = 2\n"
    assert "100755 blob" in git(repo, "ls-tree", after.tree, "a.txt")


def test_untracked_files_are_found_when_the_repository_turns_the_untracked_cache_off(
    repo: Path,
) -> None:
    git(repo, "config", "core.untrackedCache", "false")
    checkpoints = Checkpoints(repo, "s1")
    trees = []
    for n in range(3):
        # A new file in a folder the cache has seen, and one in a folder new each time.
        write_files(repo, {f"lib/new{n}.py": f"{n}\n", f"fresh{n}/x.txt": f"{n}\n"})
        trees.append(checkpoints.snapshot(f"turn {n}").tree)

    listed = git(repo, "ls-tree", "-r", "--name-only", trees[-1]).split()
    assert {f"lib/new{n}.py" for n in range(3)} <= set(listed)
    assert {f"fresh{n}/x.txt" for n in range(3)} <= set(listed)
    assert git(repo, "config", "core.untrackedCache").strip() == "false"


def test_checkpoint_numbers_stay_unique_when_two_engines_share_a_session(repo: Path) -> None:
    # Each engine guesses its next number from its own last one; the other engine has taken
    # that number meanwhile, so the guess must fall back to the session's refs, not fail.
    first, second = Checkpoints(repo, "s1"), Checkpoints(repo, "s1")
    numbers = []
    for n in range(4):
        write_files(repo, {"a.txt": f"turn {n}\n"})
        numbers.append((first if n % 2 == 0 else second).snapshot(f"turn {n}").number)

    assert numbers == [1, 2, 3, 4]
    assert [c.number for c in first.list("s1")] == [1, 2, 3, 4]


def packs(repo: Path) -> set[str]:
    return {pack.name for pack in (repo / ".git" / "objects" / "pack").glob("*.pack")}


def test_a_few_changed_files_leave_no_pack_and_many_leave_one(repo: Path) -> None:
    # A pack for each batch's few files piled up: every object lookup walks the packs, and
    # past 50 of them the user's next commit repacked the whole repository.
    checkpoints = Checkpoints(repo, "s1")
    checkpoints.snapshot("first")
    before = packs(repo)

    write_files(repo, {"a.txt": "a few\n", "lib/new.py": "new = 1\n"})
    few = checkpoints.snapshot("a few")
    assert packs(repo) == before
    assert git(repo, "show", f"{few.commit}:lib/new.py") == "new = 1\n"

    write_files(repo, {f"many/m{n}.txt": f"{n}\n" for n in range(150)})
    many = checkpoints.snapshot("many")
    assert len(packs(repo) - before) == 1
    assert git(repo, "show", f"{many.commit}:many/m149.txt") == "149\n"
