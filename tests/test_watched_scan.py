"""The look for repositories kept by the kernel's watch: it lists the tree again whenever a
change could make it answer differently, and never answers from before such a change.

Each change is made for real in a watched tree; the watched look must then equal a whole
`repositories.scan` of the tree.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sandbox_support import runner_for

from nanotui.protocol import folder_watch
from nanotui.security.jail import repositories, watched_scan
from nanotui.security.jail.command_guard import Guard
from nanotui.security.jail.watched_scan import WatchedScan

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


def tree(root: Path, folders: int = 300) -> Path:
    """`folders` folders of a few files, in 10 groups."""
    for number in range(folders):
        folder = root / f"group{number % 10}" / f"pkg{number}"
        folder.mkdir(parents=True)
        for name in ("a.py", "b.py"):
            (folder / name).write_text("x = 1\n")
    return root


@pytest.fixture
def watched(tmp_path: Path) -> WatchedScan:
    looks = WatchedScan(tree(tmp_path / "ws"), watch_after_s=0.0)
    looks.look(may_start_watch=True)
    assert looks.watching
    yield looks
    looks.close()


def git_init(folder: Path) -> None:
    subprocess.run(["git", "init", "-q", str(folder)], check=True, timeout=30)


def test_looks_with_no_change_between_them_list_nothing(watched: WatchedScan) -> None:
    first = watched.look()
    listed = watched.whole_looks
    (watched.workspace / "group1/pkg1/a.py").write_text("x = 2\n")  # an edit: no new entry
    (watched.workspace / "group1/pkg1/c.py").write_text("c = 1\n")  # a new ordinary file
    (watched.workspace / "group1/pkg1/b.py").unlink()
    assert watched.look() is first
    assert watched.whole_looks == listed


def _new_repository(ws: Path, outside: Path) -> None:
    git_init(ws / "group3/pkg3")


def _deep_new_repository(ws: Path, outside: Path) -> None:
    git_init(ws / "group4/new/deeper/still")


def _gitdir_file(ws: Path, outside: Path) -> None:
    (ws / "group5/pkg5/.git").write_text(f"gitdir: {outside}\n")


def _git_link(ws: Path, outside: Path) -> None:
    (ws / "group6/pkg6/.git").symlink_to(outside)


def _renamed_to_git(ws: Path, outside: Path) -> None:
    os.rename(ws / "group7/pkg7/a.py", ws / "group7/pkg7/.git")


def _envrc_hard_link(ws: Path, outside: Path) -> None:
    os.link(ws / "group8/pkg8/a.py", ws / "group8/pkg18/.envrc")


def _moved_in_from_outside(ws: Path, outside: Path) -> None:
    git_init(outside / "vendored/lib")
    shutil.move(outside / "vendored", ws / "group9/vendored")


def _renamed_folder_then_repository(ws: Path, outside: Path) -> None:
    os.rename(ws / "group2", ws / "renamed")
    git_init(ws / "renamed/pkg2/inner")  # in a folder the watch knew by its old name


def _made_and_removed(ws: Path, outside: Path) -> None:
    git_init(ws / "group1/pkg11")
    shutil.rmtree(ws / "group1/pkg11/.git")
    (ws / "group1/pkg21/.envrc").write_text("export X=1\n")


CHANGES = [
    _new_repository,
    _deep_new_repository,
    _gitdir_file,
    _git_link,
    _renamed_to_git,
    _envrc_hard_link,
    _moved_in_from_outside,
    _renamed_folder_then_repository,
    _made_and_removed,
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__.strip("_"))
def test_a_change_that_moves_a_marker_is_seen_by_the_next_look(
    watched: WatchedScan, tmp_path: Path, change: Callable[[Path, Path], None]
) -> None:
    before = watched.look()
    outside = tmp_path / "outside"
    outside.mkdir()
    change(watched.workspace, outside)
    after = watched.look()
    assert after == repositories.scan(watched.workspace)
    assert after != before or change is _made_and_removed
    # And the look after that, with nothing changed, keeps it.
    listed = watched.whole_looks
    assert watched.look() is after and watched.whole_looks == listed


@pytest.mark.parametrize(
    ("make_folder", "new"),
    [
        (lambda ws: (ws / "group1/new/deeper").mkdir(parents=True), "group1/new"),
        (lambda ws: os.rename(ws / "group1", ws / "new"), "new"),
        (lambda ws: shutil.copytree(ws / "group2", ws / "new/deeper"), "new"),
        # The look enters a folder named like a file it looks for: so must the watch.
        (lambda ws: (ws / "group1/.envrc").mkdir(), "group1/.envrc"),
        (lambda ws: os.rename(ws / "group2", ws / ".envrc"), ".envrc"),
    ],
    ids=["made", "renamed", "copied", "named-envrc", "renamed-envrc"],
)
def test_a_folder_new_to_the_watch_is_watched_from_the_look_that_saw_it(
    watched: WatchedScan, make_folder: Callable[[Path], None], new: str
) -> None:
    """A folder made (or renamed: its watch went with its old name) is watched before the
    look that found it lists it, so a repository made in it later is seen too."""
    make_folder(watched.workspace)
    assert watched.look().repositories == []
    git_init(watched.workspace / new / "later")
    assert watched.look() == repositories.scan(watched.workspace)
    assert watched.look().repositories == [f"{new}/later/.git"]


def test_a_new_tree_at_the_work_trees_path_is_looked_at(tmp_path: Path) -> None:
    """Renaming a folder above the root raises no event on the watched folders: the old
    path may then name another tree (a plain command can do this), holding a repository."""
    ws = tree(tmp_path / "above/ws", folders=20)
    looks = WatchedScan(ws, watch_after_s=0.0)
    looks.look(may_start_watch=True)
    assert looks.watching
    os.rename(tmp_path / "above", tmp_path / "moved")
    git_init(ws / "planted")
    assert looks.look().repositories == ["planted/.git"]


def test_a_root_that_could_not_be_listed_for_a_while_is_looked_at_again(
    tmp_path: Path,
) -> None:
    """A command takes the root's read permission, plants a repository, and a later command
    gives it back: the root's own change of permissions is a change (no parent's watch
    reports it)."""
    ws = tree(tmp_path / "ws", folders=20)
    script = textwrap.dedent(
        f"""
        import os, subprocess
        from pathlib import Path
        from nanotui.security.jail.watched_scan import WatchedScan
        ws = Path({str(ws)!r})
        looks = WatchedScan(ws, watch_after_s=0.0)
        looks.look(may_start_watch=True)
        assert looks.watching
        os.chmod(ws, 0o311)
        subprocess.run(["git", "init", "-q", str(ws / "group1/pkg1/evil")], check=True)
        print(looks.look().repositories)
        os.chmod(ws, 0o755)
        print(looks.look().repositories)
        """
    )
    done = _run_bound_by_modes(script)
    os.chmod(ws, 0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['group1/pkg1/evil/.git']"]


def _run_bound_by_modes(script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` without the right to read what a folder's mode forbids (root has it)."""
    argv = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv(1) to drop root's right to read any folder")
        drop = "-dac_override,-dac_read_search"
        argv = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_a_folder_a_command_made_unreadable_is_named_in_its_result(tmp_path: Path) -> None:
    """A repository planted in a folder the command then made unreadable cannot be seen by
    the look after it; once the folder is readable again it would pass for the user's own.
    The guard cannot look in, so it says which folder to look in before running git."""
    ws = tree(tmp_path / "ws", folders=20)
    script = textwrap.dedent(
        f"""
        import os, subprocess
        from pathlib import Path
        from nanotui.security.jail.command_guard import Guard
        ws = Path({str(ws)!r})
        guard = Guard(ws)
        subprocess.run(["git", "init", "-q", str(ws / "group1/pkg1/evil")], check=True)
        os.chmod(ws / "group1/pkg1", 0o311)
        print(guard.finish())
        guard = Guard(ws)
        print(guard.finish())
        # Unreadable before and after, but opened a moment to plant something.
        guard = Guard(ws)
        os.chmod(ws / "group1/pkg1", 0o700)
        subprocess.run(["git", "init", "-q", str(ws / "group1/pkg1/more")], check=True)
        os.chmod(ws / "group1/pkg1", 0o311)
        print(guard.finish())
        # Never readable, but written to (a folder one may enter and write, not list).
        guard = Guard(ws)
        os.mkdir(ws / "group1/pkg1/planted")
        print(guard.finish())
        """
    )
    done = _run_bound_by_modes(script)
    os.chmod(ws / "group1/pkg1", 0o755)
    assert done.returncode == 0, done.stderr
    made, same, reopened, written = done.stdout.splitlines()
    sentence = "The command changed group1/pkg1, which nanotui cannot read"
    assert sentence in made
    assert same == "[]"  # unreadable before the next command, and left as it was
    assert sentence in reopened
    assert sentence in written


def test_a_folder_reached_through_a_link_is_not_watched_under_that_name(
    watched: WatchedScan, tmp_path: Path
) -> None:
    """An event names a folder by the path it had; if a folder on that path has become a
    link since, the kernel would follow it and watch another folder under the wrong name
    (inside the tree: its events then name a path that is gone; outside it: a folder of
    the user's). The look does not follow links, and neither may the watch."""
    ws = watched.workspace
    (ws / "a").mkdir()
    (ws / "c/b").mkdir(parents=True)
    watched.look()
    (ws / "a/b").mkdir()
    shutil.rmtree(ws / "a")
    (ws / "a").symlink_to(ws / "c")
    (tmp_path / "home/proj").mkdir(parents=True)
    (ws / "d/proj").mkdir(parents=True)
    shutil.rmtree(ws / "d")
    (ws / "d").symlink_to(tmp_path / "home")
    assert watched.look() == repositories.scan(ws)
    assert not {"a/b", "d/proj"} & set(watched._watch.watched())  # type: ignore[union-attr]
    git_init(ws / "c/b/evil")
    (ws / "a").unlink()
    git_init(tmp_path / "home/proj/mine")  # the user's own, outside the tree
    assert watched.look() == repositories.scan(ws)
    assert watched.look().repositories == ["c/b/evil/.git"]


def test_a_folder_moved_back_and_forth_is_listed_once(
    watched: WatchedScan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command can rename a big folder thousands of times before the look after it:
    each name is watched and listed once, not once an event."""
    ws = watched.workspace
    listed: list[str] = []
    scan = repositories.scan

    def counted(workspace: Path, below: str = "") -> repositories.Scan:
        listed.append(below)
        return scan(workspace, below)

    monkeypatch.setattr(repositories, "scan", counted)
    watch = watched._watch
    assert watch is not None
    watched_below: list[str] = []
    watch_each_below = watch.watch_each_below

    def watch_counted(tops: list[str], skip: Callable[[str], bool]) -> None:
        watched_below.extend(tops)
        watch_each_below(tops, skip)

    monkeypatch.setattr(watch, "watch_each_below", watch_counted)
    watched.look()
    for _ in range(200):
        os.rename(ws / "group1", ws / "elsewhere")
        os.rename(ws / "elsewhere", ws / "group1")
    assert watched.look() == scan(ws)
    assert listed == ["group1"]
    assert sorted(watched_below) == ["elsewhere", "group1"]


def test_a_flood_of_events_that_overflows_the_queue_cannot_hide_a_repository(
    watched: WatchedScan,
) -> None:
    """The kernel queues a bounded number of events and drops the rest: a command that makes
    more files than that and then a repository leaves no event of the repository at all.
    The overflow itself is reported, and the look lists the tree again."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 200_000:
        pytest.skip(f"the kernel queues {limit} events: too many files to make in a test")
    watched.look()
    flood = watched.workspace / "group0/pkg0"
    for number in range(limit + 100):
        (flood / f"f{number}").touch()
    git_init(watched.workspace / "group1/pkg1")  # its events are dropped
    found = watched.look()
    assert found.repositories == ["group1/pkg1/.git"]


def test_a_file_system_mounted_over_a_folder_is_looked_at(tmp_path: Path) -> None:
    """A mount raises no event in the folder it covers: a changed mount table is a change,
    and a tree with a mount inside it is not watched at all. Run in a private mount
    namespace, as root, so the host's mounts stay as they were."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private mount namespace")
    ws, hidden = tree(tmp_path / "ws", folders=20), tmp_path / "hidden"
    git_init(hidden / "repository")
    script = textwrap.dedent(
        f"""
        import subprocess
        from pathlib import Path
        from nanotui.security.jail.watched_scan import WatchedScan
        looks = WatchedScan(Path({str(ws)!r}), watch_after_s=0.0)
        looks.look(may_start_watch=True)
        assert looks.watching and looks.look().repositories == []
        subprocess.run(["mount", "--bind", {str(hidden)!r}, {str(ws / "group1/pkg1")!r}],
                       check=True)
        print(looks.look().repositories)
        print(looks.watching)
        # Made inside the mounted file system, which no watch covers.
        subprocess.run(["git", "init", "-q", {str(ws / "group1/pkg1/later")!r}], check=True)
        print(looks.look().repositories)
        later = WatchedScan(Path({str(ws)!r}), watch_after_s=0.0)
        later.look(may_start_watch=True)
        print(later.watching)
        """
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "['group1/pkg1/repository/.git']",
        # A mount inside the tree ends the watch, and a tree with one is not watched.
        "False",
        "['group1/pkg1/later/.git', 'group1/pkg1/repository/.git']",
        "False",
    ]


def test_a_tree_too_big_to_watch_is_looked_at_whole_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watched_scan, "MAX_WATCHED_FOLDERS", 50)
    looks = WatchedScan(tree(tmp_path / "ws"), watch_after_s=0.0)
    looks.look(may_start_watch=True)
    assert not looks.watching
    git_init(looks.workspace / "group1/pkg1")
    listed = looks.whole_looks
    assert looks.look().repositories == ["group1/pkg1/.git"]
    assert looks.whole_looks == listed + 1


def test_a_small_tree_is_not_watched(tmp_path: Path) -> None:
    looks = WatchedScan(tree(tmp_path / "ws", folders=3), watch_after_s=10.0)
    looks.look(may_start_watch=True)
    assert not looks.watching


def test_only_the_look_before_a_command_starts_the_watch(tmp_path: Path) -> None:
    """The look after a command runs on the event loop: setting up a watch on every folder
    there would hold the screen; the next look before a command does it."""
    looks = WatchedScan(tree(tmp_path / "ws", folders=20), watch_after_s=0.0)
    looks.look()
    assert not looks.watching
    looks.look(may_start_watch=True)
    assert looks.watching
    looks.close()
    assert not looks.watching


async def test_one_runner_guards_command_after_command_with_the_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real sandbox: harmless commands leave the watch's answer standing, and a
    later command's new repository and its change to an existing one are still undone."""
    monkeypatch.setattr(watched_scan, "WATCH_AFTER_S", 0.0)
    ws = tree(tmp_path / "ws", folders=40)
    git_init(ws / "group1/pkg1")
    config = (ws / "group1/pkg1/.git/config").read_bytes()
    runner = runner_for("landlock", ws)

    async def run(command: str) -> str:
        result = await runner.run(command, cwd=ws, timeout_s=30, max_output_bytes=10_000)
        assert result.exit_code == 0, result.stderr
        return result.notice

    await run("true")
    looks = runner.looks  # type: ignore[attr-defined]
    assert looks.watching
    listed = looks.whole_looks
    await run("echo y >> group2/pkg2/a.py && cat group3/pkg3/b.py")
    assert looks.whole_looks == listed  # answered by the watch, before and after
    said = await run(
        "git init -q group4/pkg4/new && printf '[core]\\n\\tpager = evil\\n' "
        ">> group4/pkg4/new/.git/config && echo '[alias]' >> group1/pkg1/.git/config"
    )
    assert "group4/pkg4/new/.git/config" in said
    assert "evil" not in (ws / "group4/pkg4/new/.git/config").read_text()
    assert (ws / "group1/pkg1/.git/config").read_bytes() == config


def test_a_watch_dropped_without_closing_gives_its_descriptor_back(tmp_path: Path) -> None:
    """A runner is simply let go when its session ends: its watch's descriptor (and the
    kernel memory of every watch) must go with it, and be closed only once."""
    looks = WatchedScan(tree(tmp_path / "ws", folders=20), watch_after_s=0.0)
    looks.look(may_start_watch=True)
    descriptor = looks._watch.fileno()  # type: ignore[union-attr]
    os.fstat(descriptor)
    del looks
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(descriptor)
    closed = folder_watch.FolderWatch(tmp_path)
    closed.close()
    closed.close()  # a second close does nothing


async def test_in_a_watched_tree_the_look_before_a_command_stays_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch makes looks quick, but the next one may have to list folders made since
    (by a long-lived program, or the user): then it is on a thread, and only there may the
    watch be set up (a program's launch, on the loop, never does). With nothing queued it
    is taken in place."""
    from nanotui.security.sandbox import runners

    monkeypatch.setattr(watched_scan, "WATCH_AFTER_S", 0.0)
    # Judged by what the watch has queued, not by time: a loaded machine may take the
    # in-place look past its usual 2 ms, which would send it to a thread too.
    monkeypatch.setattr(runners, "LOOK_IN_PLACE_S", 10.0)
    handed: list[object] = []
    to_thread = asyncio.to_thread

    async def counted(function, *args):  # type: ignore[no-untyped-def]
        if getattr(function, "__qualname__", "").startswith("GuardedRunner._look"):
            handed.append(function)  # the look (other parts hand other work to threads)
        return await to_thread(function, *args)

    monkeypatch.setattr(runners.asyncio, "to_thread", counted)
    ws = tree(tmp_path / "ws", folders=20)
    runner = runner_for("landlock", ws)
    runner.launch(["true"], cwd=ws)  # type: ignore[attr-defined]
    assert not runner.looks.watching  # type: ignore[attr-defined]
    counts = []
    for made in (False, False, True, False):
        if made:
            (ws / "group1/made-meanwhile").mkdir()
        await runner.run("true", cwd=ws, timeout_s=30, max_output_bytes=1000)
        counts.append(len(handed))
    assert runner.looks.watching  # type: ignore[attr-defined]
    # The first (the watch set up), then in place, then a thread for the folder made.
    assert counts == [1, 1, 2, 2]


def _random_changes(ws: Path, outside: Path, rng: random.Random, count: int) -> None:
    """`count` random changes of the kinds a command makes: folders made, renamed (to a
    marker's name too), moved out and back in, removed; markers of every kind made and
    removed; files renamed to `.git`."""
    for _ in range(count):
        folders = [p for p in ws.rglob("*") if p.is_dir() and not p.is_symlink()]
        folders = [p for p in folders if ".git" not in p.relative_to(ws).parts] or [ws]
        here = rng.choice(folders)
        name = rng.choice(["x", "y", "z", ".git", ".envrc", "sub"])
        target = here / name
        kind = rng.randrange(12)
        try:
            if kind == 0:
                (target / rng.choice(["a", "b"])).mkdir(parents=True)
            elif kind == 1 and here != ws:
                os.rename(here, here.parent / rng.choice(["moved", ".envrc", ".git", "w"]))
            elif kind == 2 and here != ws:
                shutil.rmtree(here)
            elif kind == 3:
                (here / ".git").mkdir()
            elif kind == 4:
                (here / rng.choice([".git", ".envrc"])).write_text("gitdir: /nowhere\n")
            elif kind == 5:
                (here / rng.choice([".git", ".envrc"])).symlink_to(outside)
            elif kind == 6 and here != ws:
                away = outside / f"away{rng.randrange(10**6)}"
                shutil.move(here, away)
                if rng.random() < 0.7:
                    shutil.move(away, rng.choice(folders) / f"back{rng.randrange(100)}")
            elif kind == 7:
                for marker in (".git", ".envrc"):
                    path = here / marker
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    elif os.path.lexists(path):
                        path.unlink()
            elif kind == 8:
                (here / "f.txt").write_text("x")
                os.rename(here / "f.txt", here / rng.choice([".git", ".envrc"]))
            elif kind == 9 and here != ws:
                # Two entries swapped in one step: "moved away" comes last for a name there.
                other = rng.choice([p for p in ws.rglob("*") if ".git" not in p.parts] or [ws])
                _exchange(here, other)
            elif kind == 10 and here != ws:
                shutil.rmtree(here)
                here.symlink_to(rng.choice(folders))  # a link the look must not follow
            elif kind == 11 and here != ws:
                (here.parent / "empty").mkdir()
                os.rename(here, here.parent / "empty")  # over an empty folder
        except OSError:
            pass  # the name was taken, or a folder cannot go into itself: no change


def _exchange(one: Path, other: Path) -> None:
    """renameat2(RENAME_EXCHANGE): both names stay, each now naming the other's entry."""
    libc = ctypes.CDLL(None, use_errno=True)
    here = -100  # AT_FDCWD
    if libc.renameat2(here, os.fsencode(one), here, os.fsencode(other), 2) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")


def test_two_folders_swapped_in_one_step_are_both_looked_at(watched: WatchedScan) -> None:
    ws = watched.workspace
    git_init(ws / "group1/pkg1/evil")
    assert watched.look().repositories == ["group1/pkg1/evil/.git"]
    _exchange(ws / "group1/pkg1", ws / "group2/pkg2")
    assert watched.look().repositories == ["group2/pkg2/evil/.git"]
    (ws / "group3/new").mkdir()
    git_init(ws / "group3/new/planted")
    _exchange(ws / "group3/new", ws / "group4/pkg4")
    assert watched.look() == repositories.scan(ws)
    assert "group4/pkg4/planted/.git" in watched.look().repositories


@pytest.mark.parametrize("seed", range(6))
def test_the_kept_look_always_equals_a_whole_one_whatever_changed(
    tmp_path: Path, seed: int
) -> None:
    """Random changes, a few at a time, each batch followed by a look: the look the watch
    brought up to date must be what listing the whole tree finds, every time."""
    ws = tree(tmp_path / "ws", folders=60)
    outside = tmp_path / "outside"
    outside.mkdir()
    looks = WatchedScan(ws, watch_after_s=0.0)
    looks.look(may_start_watch=True)
    rng = random.Random(seed)
    try:
        for round_number in range(60):
            _random_changes(ws, outside, rng, rng.randint(1, 4))
            assert looks.look() == repositories.scan(ws), f"round {round_number}"
        assert looks.watching
        assert looks.whole_looks < 10, "the watch should have kept most looks"
    finally:
        looks.close()


def test_two_names_for_one_watched_folder_end_the_watch(tmp_path: Path) -> None:
    """Should a link slip onto a path between the check of its way and the watch (a race
    with a running program), the kernel hands back the watch of the folder it reached: the
    watch cannot say which name its events are for any more, and says so."""
    (tmp_path / "c/b").mkdir(parents=True)
    watch = folder_watch.FolderWatch(tmp_path)
    try:
        watch.watch_below("", _nothing_skipped)
        (tmp_path / "a").symlink_to(tmp_path / "c")
        with pytest.raises(folder_watch.WatchUnavailable, match="are one folder"):
            watch._watch("a/b")  # as if the check of the way had seen a folder there
    finally:
        watch.close()


def _nothing_skipped(_folder: str) -> bool:
    return False


def test_a_tree_too_big_to_look_through_still_has_its_hooks_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look's summary of a tree it stopped in is not a path: putting back must not try
    to remove it (it did, and the whole put-back failed)."""
    monkeypatch.setattr(repositories, "MAX_SCAN_FOLDERS", 50)
    ws = tree(tmp_path / "ws", folders=100)
    git_init(ws)
    guard = Guard(ws)
    hook = ws / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\ntouch owned\n")
    said = guard.finish()
    assert not hook.exists()
    assert any(".git/hooks/pre-commit" in sentence for sentence in said), said
    assert any("more than 50 folders" in sentence for sentence in said), said


def test_a_new_folder_behind_one_that_cannot_be_searched_counts_as_unreadable(
    tmp_path: Path,
) -> None:
    """The way to a folder that cannot be searched makes it unreadable, as a failed watch
    does: its owner (the change feed) must know that changes there go unseen."""
    ws = tmp_path / "ws"
    (ws / "d/s").mkdir(parents=True)
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from nanotui.protocol.folder_watch import FolderWatch
        ws = Path({str(ws)!r})
        watch = FolderWatch(ws)
        watch.watch_below("", lambda folder: False)
        os.mkdir(ws / "d/s/new")
        os.chmod(ws / "d", 0o600)
        watch.watch_below("d/s/new", lambda folder: False)
        print(watch.unreadable)
        """
    )
    done = _run_bound_by_modes(script)
    os.chmod(ws / "d", 0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['d/s/new']"


def test_a_removed_or_renamed_subtree_loses_exactly_its_watches(tmp_path: Path) -> None:
    ws = tree(tmp_path / "ws", folders=40)
    (ws / "group1/pkg1/deep/er").mkdir(parents=True)
    watch = folder_watch.FolderWatch(ws)
    try:
        watch.watch_below("", _nothing_skipped)
        shutil.rmtree(ws / "group2")
        os.rename(ws / "group1", ws / "moved")
        watch.read()
        left = sorted(watch.watched())
        assert left == sorted(
            ["", *(f"group{n}" for n in range(10) if n not in (1, 2))]
            + [f"group{n % 10}/pkg{n}" for n in range(40) if n % 10 not in (1, 2)]
        )
    finally:
        watch.close()


def test_a_tree_on_a_file_system_that_may_change_unseen_is_not_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a network or FUSE file system a write that arrives another way raises no event:
    such a tree is looked at whole every time (here: no file system counts as local)."""
    monkeypatch.setattr(folder_watch, "LOCAL_FILE_SYSTEMS", {})
    looks = WatchedScan(tree(tmp_path / "ws", folders=20), watch_after_s=0.0)
    looks.look(may_start_watch=True)
    assert not looks.watching
    git_init(looks.workspace / "group1/pkg1")
    assert looks.look().repositories == ["group1/pkg1/.git"]


async def test_a_runner_warmed_up_as_the_session_opens_watches_before_its_first_command(
    tmp_path: Path,
) -> None:
    ws = tree(tmp_path / "ws")
    runner = runner_for("landlock", ws)
    looks = runner.looks  # type: ignore[attr-defined]
    looks.watch_after_s = 0.0
    runner.warm_up_soon()  # type: ignore[attr-defined]
    for _ in range(400):
        if looks.watching:
            break
        await asyncio.sleep(0.05)
    assert looks.watching  # set up on its own thread, before any command
    with looks._lock:  # the warm-up's look is done once its lock is free
        listed = looks.whole_looks
    result = await runner.run("true", cwd=ws, timeout_s=30, max_output_bytes=1000)
    assert result.exit_code == 0
    assert looks.whole_looks == listed  # the first command's looks were kept by the watch


def test_a_look_on_the_event_loop_does_not_wait_for_the_warm_up(tmp_path: Path) -> None:
    """The session's warm-up holds the looks' state for seconds in a big tree; a look from
    the event loop (a program's launch, the look after a command) lists the tree itself."""
    looks = WatchedScan(tree(tmp_path / "ws", folders=20), watch_after_s=0.0)
    answers: list[repositories.Scan] = []
    with looks._lock:  # the warm-up, setting the watch up
        git_init(looks.workspace / "group1/pkg1")
        on_the_loop = threading.Thread(target=lambda: answers.append(looks.look()))
        on_the_loop.start()
        on_the_loop.join(20)
        assert answers, "the look waited for the warm-up"
    assert answers[0].repositories == ["group1/pkg1/.git"]  # a whole look's answer
