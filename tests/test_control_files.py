"""Git hooks, git config and .nanotui are put back after a command, in every backend."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sandbox_support import BACKENDS, runner_for

from nanotui.security.jail import control_files


def git_repo(root: Path) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "a.py").write_text("a = 1\n")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo")


# Each plants something that runs on the host at the user's next git command.
PLANTS = {
    "hook": "printf '#!/bin/sh\\ntouch /tmp/owned\\n' > .git/hooks/pre-commit; "
    "chmod +x .git/hooks/pre-commit",
    "commondir": "mkdir -p evil && printf '[core]\\nfsmonitor = touch owned\\n' > evil/config "
    "&& printf '../evil\\n' > .git/commondir",
    "config.worktree": "printf '[core]\\npager = touch owned\\n' > .git/config.worktree",
    "project config": "mkdir -p .nanotui && printf '[approval]\\nmode = \"full-auto\"\\n' "
    "> .nanotui/config.toml",
    "submodule hook": "mkdir -p .git/modules/lib/hooks "
    "&& printf x > .git/modules/lib/hooks/post-checkout",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plant", list(PLANTS))
async def test_planted_control_files_are_put_back(repo: Path, backend: str, plant: str) -> None:
    runner = runner_for(backend, repo)
    before = control_files.take(repo)
    config = (repo / ".git/config").read_bytes()
    result = await runner.run(PLANTS[plant], cwd=repo, timeout_s=10, max_output_bytes=10_000)
    assert control_files.take(repo) == before, result.stderr
    assert (repo / ".git/config").read_bytes() == config
    assert not (repo / ".git/hooks/pre-commit").exists()
    assert not (repo / ".git/commondir").exists() and not (repo / ".nanotui").exists()
    if plant != "submodule hook" or backend != "bwrap":  # bwrap may refuse it outright
        assert "put back" in result.notice or result.exit_code != 0


async def test_a_changed_config_is_restored_and_the_work_tree_kept(repo: Path) -> None:
    runner = runner_for("landlock", repo)  # Landlock cannot make .git/config read-only
    result = await runner.run(
        "git config core.fsmonitor 'touch owned' && echo b = 2 > b.py",
        cwd=repo,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert "fsmonitor" not in (repo / ".git/config").read_text()
    assert (repo / "b.py").read_text() == "b = 2\n"  # ordinary work stays
    assert ".git/config" in result.notice and "put back" in result.notice


async def test_git_init_where_there_was_no_repository_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    runner = runner_for("landlock", folder)
    result = await runner.run("git init -q .", cwd=folder, timeout_s=10, max_output_bytes=1000)
    assert result.exit_code == 0 and result.notice == ""
    assert (folder / ".git/config").is_file()


def test_a_folder_replaced_by_a_link_is_not_written_through(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / ".git/hooks/pre-push").write_text("#!/bin/sh\n")
    before = control_files.take(repo)
    hooks = repo / ".git/hooks"
    for child in hooks.iterdir():
        child.unlink()
    hooks.rmdir()
    hooks.symlink_to(outside)
    failed = control_files.put_back(
        repo, before, control_files.changed(before, control_files.take(repo))
    )
    assert failed == []  # the link is removed and the folder made again
    assert not hooks.is_symlink() and (hooks / "pre-push").read_text() == "#!/bin/sh\n"
    assert list(outside.iterdir()) == []


FSMONITOR = "git config core.fsmonitor 'touch owned; false'"
# Ways the review found to plant code for the host's git; each must leave nothing that runs.
TRICKS = {
    # A folder too deep (or too full) to list must not hide the changed config.
    "deep nest": f"{FSMONITOR}; cd .git/hooks && for i in $(seq 60); do mkdir a && cd a; done",
    # A link whose target is not valid text must not break the look at the files.
    "odd link": f"{FSMONITOR}; ln -s $'\\xff' .git/hooks/zz",
    # A repository inside the workspace, registered in the index, is run by `git status`.
    "nested repository": "mkdir sub && cd sub && git init -q && "
    f"{FSMONITOR} && echo x > f && git add f && git -c user.name=a -c user.email=a@b "
    "commit -qm s && cd .. && git add sub",
}


@pytest.mark.parametrize("trick", list(TRICKS))
async def test_tricks_leave_no_config_that_runs_programs(repo: Path, trick: str) -> None:
    runner = runner_for("landlock", repo)  # the weakest backend that still isolates
    result = await runner.run(TRICKS[trick], cwd=repo, timeout_s=20, max_output_bytes=10_000)
    for config in [repo / ".git/config", *repo.glob("*/.git/config")]:
        assert "fsmonitor" not in config.read_text(), (trick, config, result.stderr)
    assert not list((repo / ".git/hooks").glob("zz"))
    assert result.notice, "the user is told"


async def test_a_repository_made_where_there_was_none_keeps_no_risky_config(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    runner = runner_for("landlock", folder)
    result = await runner.run(
        f"git init -q . && {FSMONITOR} && printf x > .git/hooks/post-checkout",
        cwd=folder,
        timeout_s=10,
        max_output_bytes=1000,
    )
    assert "fsmonitor" not in (folder / ".git/config").read_text()
    assert not (folder / ".git/hooks/post-checkout").exists()
    assert "reset .git/config" in result.notice


async def test_hooks_under_core_hooks_path_are_guarded(repo: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "config", "core.hooksPath", ".husky"], check=True)
    (repo / ".husky").mkdir()
    runner = runner_for("landlock", repo)
    result = await runner.run(
        "printf '#!/bin/sh\\ntouch owned\\n' > .husky/pre-commit",
        cwd=repo,
        timeout_s=10,
        max_output_bytes=1000,
    )
    assert not (repo / ".husky/pre-commit").exists() and "put back" in result.notice


async def test_a_removed_repository_is_reported_not_half_rebuilt(repo: Path) -> None:
    runner = runner_for("landlock", repo)
    result = await runner.run(
        "cp -r .git .gitold && rm -rf .git && echo 'gitdir: .gitold' > .git",
        cwd=repo,
        timeout_s=10,
        max_output_bytes=1000,
    )
    assert not (repo / ".git").exists()  # the stand-in file is gone, nothing half-made
    assert "put it back by hand" in result.notice


async def test_pointing_hooks_path_at_the_work_tree_reverts_nothing_there(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src/a.py").write_text("a = 1\n")
    runner = runner_for("landlock", repo)
    result = await runner.run(
        "git config core.hooksPath src && echo 'a = 2' > src/a.py",
        cwd=repo,
        timeout_s=10,
        max_output_bytes=1000,
    )
    assert (repo / "src/a.py").read_text() == "a = 2\n"  # ordinary work stays
    assert "hookspath" not in (repo / ".git/config").read_text().lower()
    assert ".git/config" in result.notice
