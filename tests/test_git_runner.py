"""The one git runner: a hostile repository config runs nothing, stray variables are ignored."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nanotui.security.jail.git_runner import (
    head_commit,
    run_git,
    run_git_sync,
    tracked_files,
)


def hostile_repository(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose config would run a program on status and on commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "a.txt").write_text("a\n")
    subprocess.run([*git, "add", "a.txt"], check=True)
    env_identity = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, *env_identity, "commit", "-qm", "start"], check=True)
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (hooks / "pre-commit").chmod(0o755)
    subprocess.run([*git, "config", "core.fsmonitor", str(script)], check=True)
    subprocess.run([*git, "config", "core.pager", str(script)], check=True)
    return repo, marker


def test_sync_runner_runs_no_fsmonitor_hook_or_pager(tmp_path: Path) -> None:
    repo, marker = hostile_repository(tmp_path)
    (repo / "a.txt").write_text("b\n")
    assert run_git_sync(["status", "--porcelain"], repo).returncode == 0
    assert run_git_sync(["diff"], repo).returncode == 0
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid"}
    identity |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}
    done = run_git_sync(["commit", "-qam", "change"], repo, env=identity, look_only=False)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


async def test_async_runner_runs_no_fsmonitor_or_pager(tmp_path: Path) -> None:
    repo, marker = hostile_repository(tmp_path)
    out = await run_git(["status", "--porcelain=v1", "-b"], repo)
    assert out.returncode == 0 and out.stdout.startswith(b"## ")
    assert not marker.exists()


def test_a_git_dir_left_in_the_shell_points_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = hostile_repository(tmp_path)
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    assert tracked_files(repo) == ["a.txt"]
    assert head_commit(repo) is not None and len(head_commit(repo) or "") == 40


def test_outside_a_repository_there_is_no_head_and_no_files(tmp_path: Path) -> None:
    assert head_commit(tmp_path) is None
    assert tracked_files(tmp_path) == []
