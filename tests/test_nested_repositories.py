"""Repositories a command makes or changes anywhere in the workspace run nothing on the host.

Each test runs the attack through the real sandbox runner, then runs git on the host as a
git-aware prompt or editor would, and looks for the file the attacker's program would make.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path

import pytest
from sandbox_support import ISOLATING, runner_for

from nanotui.security.jail import repositories, watched_scan
from nanotui.security.sandbox import runners

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


def git(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [*GIT, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout + done.stderr


def repository_with_history(folder: Path) -> Path:
    folder.mkdir(parents=True)
    git("init", "-q", ".", cwd=folder)
    for number in (1, 2):
        (folder / "a.py").write_text(f"a = {number}\n")
        git("add", "a.py", cwd=folder)
        git("commit", "-qm", f"commit {number}", cwd=folder)
    return folder


@pytest.fixture(autouse=True, params=["whole looks", "watched"])
def looks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every attack runs twice: with each look listing the whole tree, and with the kernel's
    watch set up by the look before the command, so that it is the watch's events that must
    tell the look after it what the command made (`watched_scan`)."""
    watched = request.param == "watched"
    monkeypatch.setattr(watched_scan, "WATCH_AFTER_S", 0.0 if watched else math.inf)
    return request.param


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repository_with_history(tmp_path / "repo")


def index_mark(repo: Path) -> tuple[int, int]:
    info = (repo / ".git/index").stat()
    return info.st_size, info.st_mtime_ns


async def run(backend: str, repo: Path, command: str) -> str:
    """Run `command` in the sandbox over `repo`; the result's notice."""
    runner = runner_for(backend, repo)
    result = await runner.run(command, cwd=repo, timeout_s=30, max_output_bytes=100_000)
    return result.notice


def fsmonitor_line(marker: Path) -> str:
    return f"printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n'"


def test_the_planted_fsmonitor_does_run_without_the_guard(repo: Path, tmp_path: Path) -> None:
    """The attack itself, done on the host without any sandbox: `git status` runs it."""
    marker = tmp_path / "owned"
    subprocess.run(
        f"git init -q sub && {fsmonitor_line(marker)} >> sub/.git/config",
        shell=True,
        cwd=repo,
        check=True,
    )
    git("-C", "sub", "status", cwd=repo)
    assert marker.exists()


@pytest.mark.parametrize("backend", ISOLATING)
@pytest.mark.parametrize("where", ["sub", "a/b/c"])
async def test_a_repository_a_command_made_runs_no_fsmonitor_on_the_host(
    repo: Path, tmp_path: Path, backend: str, where: str
) -> None:
    marker = tmp_path / "owned"
    index = index_mark(repo)
    notice = await run(
        backend,
        repo,
        f"mkdir -p {where} && git init -q {where} && {fsmonitor_line(marker)} "
        f">> {where}/.git/config && printf '#!/bin/sh\\ntouch {marker}\\n' "
        f"> {where}/.git/hooks/pre-commit && chmod +x {where}/.git/hooks/pre-commit",
    )
    assert index_mark(repo) == index  # the root's index never changed
    (repo / where / "f.txt").write_text("x\n")
    git("-C", where, "status", cwd=repo)
    git("-C", where, "add", "f.txt", cwd=repo)
    git("-C", where, "commit", "-qm", "host commit", cwd=repo)
    assert not marker.exists()
    assert "fsmonitor" not in (repo / where / ".git/config").read_text()
    assert f"reset {where}/.git/config" in notice
    assert f"removed the hook {where}/.git/hooks/pre-commit" in notice
    assert "host commit" in git("-C", where, "log", "--oneline", cwd=repo)  # still a repository


@pytest.mark.parametrize(("last_look_s", "on_a_thread"), [(None, True), (10.0, True), (0.0, False)])
async def test_the_look_before_a_command_guards_it_on_a_thread_or_in_place(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    last_look_s: float | None,
    on_a_thread: bool,
) -> None:
    """The first look, and one after a slow look, go to a thread; after a quick one the look
    is taken in place (a thread costs more than it). Either way the guard holds."""
    handed: list[object] = []
    to_thread = asyncio.to_thread

    async def counted(function, *args):  # type: ignore[no-untyped-def]
        handed.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(runners.asyncio, "to_thread", counted)
    runner = runner_for("landlock", repo)
    assert isinstance(runner, runners.GuardedRunner)
    runner.last_look_s = last_look_s
    marker = tmp_path / "owned"
    result = await runner.run(
        f"git init -q sub && {fsmonitor_line(marker)} >> sub/.git/config",
        cwd=repo,
        timeout_s=30,
        max_output_bytes=10_000,
    )
    git("-C", "sub", "status", cwd=repo)
    assert not marker.exists()
    assert "reset sub/.git/config" in result.notice
    assert bool(handed) == on_a_thread
    assert runner.last_look_s is not None and 0 < runner.last_look_s < 10  # the look after


@pytest.mark.parametrize("backend", ISOLATING)
async def test_a_changed_config_in_an_existing_nested_repository_is_put_back(
    repo: Path, tmp_path: Path, backend: str
) -> None:
    nested = repository_with_history(repo / "vendor/lib")
    config = (nested / ".git/config").read_bytes()
    marker = tmp_path / "owned"
    index = index_mark(repo)
    notice = await run(
        backend,
        repo,
        f"{fsmonitor_line(marker)} >> vendor/lib/.git/config && "
        "git -C vendor/lib config core.pager 'touch owned' && "
        "printf x > vendor/lib/.git/hooks/post-checkout",
    )
    assert index_mark(repo) == index
    git("-C", "vendor/lib", "status", cwd=repo)
    git("-C", "vendor/lib", "log", "-1", cwd=repo)
    assert not marker.exists()
    assert (nested / ".git/config").read_bytes() == config
    assert not (nested / ".git/hooks/post-checkout").exists()
    assert "vendor/lib/.git/config" in notice and "put back" in notice


async def test_hooks_under_a_nested_repositorys_hooks_path_are_put_back(
    repo: Path, tmp_path: Path
) -> None:
    nested = repository_with_history(repo / "lib")
    git("config", "core.hooksPath", "githooks", cwd=nested)
    (nested / "githooks").mkdir()
    marker = tmp_path / "owned"
    notice = await run(
        "landlock",
        repo,
        f"printf '#!/bin/sh\\ntouch {marker}\\n' > lib/githooks/pre-commit && "
        "chmod +x lib/githooks/pre-commit",
    )
    (nested / "b.py").write_text("b = 1\n")
    git("add", "b.py", cwd=nested)
    git("commit", "-qm", "b", cwd=nested)
    assert not marker.exists()
    assert "lib/githooks/pre-commit" in notice


@pytest.mark.parametrize("backend", ISOLATING)
@pytest.mark.parametrize(
    "swap",
    [
        "mv .git .gitold && printf 'gitdir: .gitold\\n' > .git",
        "mkdir -p deep/er && mv .git deep/er/kept && ln -s deep/er/kept .git",
        "mv .git .gitold && git init -q . && printf x > .git/hooks/pre-commit",
    ],
)
async def test_a_swapped_root_repository_is_moved_back_with_its_history(
    repo: Path, tmp_path: Path, backend: str, swap: str
) -> None:
    marker = tmp_path / "owned"
    history = git("log", "--oneline", cwd=repo)
    notice = await run(
        backend, repo, f"{swap} && git --git-dir=.git config core.fsmonitor 'touch {marker}'"
    )
    assert (repo / ".git").is_dir() and not (repo / ".git").is_symlink()
    assert git("log", "--oneline", cwd=repo) == history
    assert "commit 1" in history
    git("status", cwd=repo)
    assert not marker.exists()
    assert not (repo / ".gitold").exists() and not (repo / "deep/er/kept").exists()
    assert "moved the repository back" in notice
    for aside in repo.glob(".git-made-by-command*"):
        assert not (aside / "hooks/pre-commit").exists()


async def test_a_new_envrc_is_removed_and_a_changed_one_put_back(repo: Path) -> None:
    (repo / "tools").mkdir()
    (repo / "tools/.envrc").write_text("export A=1\n")
    notice = await run(
        "landlock",
        repo,
        "python3 -c \"open('.envrc', 'w').write('touch owned')\" && "
        "python3 -c \"open('tools/.envrc', 'a').write('touch owned')\" && "
        "mkdir -p x/y && python3 -c \"open('x/y/.envrc', 'w').write('touch owned')\"",
    )
    assert not (repo / ".envrc").exists() and not (repo / "x/y/.envrc").exists()
    assert (repo / "tools/.envrc").read_text() == "export A=1\n"
    assert ".envrc" in notice and "put back" in notice


async def test_bwrap_puts_back_an_envrc_written_by_any_program(repo: Path) -> None:
    notice = await run("bwrap", repo, "python3 -c \"open('.envrc', 'w').write('touch owned')\"")
    assert not (repo / ".envrc").exists() and "put back" in notice


async def test_ordinary_work_in_a_nested_repository_is_left_alone(repo: Path) -> None:
    nested = repository_with_history(repo / "lib")
    hook = nested / ".git/hooks/pre-push"
    hook.write_text("#!/bin/sh\nexit 0\n")
    notice = await run(
        "landlock",
        repo,
        "echo 'b = 2' > lib/b.py && git -C lib add b.py && "
        "git -C lib -c user.name=t -c user.email=t@t commit -qm b && rm -rf gone",
    )
    assert notice == ""
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert "b" in git("-C", "lib", "log", "--oneline", "-1", cwd=repo)


async def test_removing_a_nested_repository_does_not_bring_back_its_git_files(
    repo: Path,
) -> None:
    repository_with_history(repo / "build/dep")
    notice = await run("landlock", repo, "rm -rf build")
    assert not (repo / "build").exists() and notice == ""


async def test_a_git_file_pointing_outside_the_workspace_is_removed(
    repo: Path, tmp_path: Path
) -> None:
    # Nothing here has looked at a folder outside the workspace, so git must not be sent there.
    outside = repository_with_history(tmp_path / "outside")
    notice = await run("landlock", repo, f"mkdir sub && echo 'gitdir: {outside}/.git' > sub/.git")
    assert not (repo / "sub/.git").exists()
    assert "removed sub/.git, which pointed git outside the workspace" in notice


async def test_the_look_for_repositories_never_enters_a_git_folder(repo: Path) -> None:
    (repo / ".git/objects/zz/.git").mkdir(parents=True)  # never seen: inside .git
    repository_with_history(repo / "a/b")
    found = repositories.scan(repo)
    assert found.repositories == ["a/b/.git"] and found.complete


async def test_a_worktrees_git_file_replaced_by_a_new_repository_is_put_back(
    repo: Path, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    git("worktree", "add", "-q", worktree, cwd=repo)
    link = (worktree / ".git").read_text()
    notice = await run("landlock", worktree, "rm .git && git init -q .")
    assert (worktree / ".git").is_file() and (worktree / ".git").read_text() == link
    assert "commit 2" in git("log", "--oneline", cwd=worktree)
    assert ".git" in notice and "put back" in notice
