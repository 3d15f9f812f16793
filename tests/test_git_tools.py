"""git_status and git_diff against real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools_support import call, git, init_repo, make_ctx

from nanotui.tools.git_tools import GitDiffTool, GitStatusTool, summarize_status

status, diff = GitStatusTool(), GitDiffTool()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit, then a staged, an unstaged and an untracked change."""
    init_repo(tmp_path)
    (tmp_path / "app.py").write_text("print('v1')\n")
    (tmp_path / "lib.py").write_text("x = 1\n")
    (tmp_path / ".env").write_text("TOKEN=old\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "first")
    (tmp_path / "app.py").write_text("print('v2')\n")
    (tmp_path / "lib.py").write_text("x = 2\n")
    git(tmp_path, "add", "lib.py")
    (tmp_path / "new.txt").write_text("untracked\n")
    (tmp_path / ".env").write_text("TOKEN=new-secret\n")
    return tmp_path


async def test_outside_a_repository_both_say_so(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    for tool in (status, diff):
        out = await call(tool, ctx)
        assert not out.ok
        assert out.content.startswith("The workspace is not inside a git repository")


async def test_status_summarizes_branch_and_changes(repo: Path) -> None:
    out = await call(status, make_ctx(repo))
    assert out.ok
    lines = out.content.splitlines()
    assert lines[0] == "On branch main"
    assert lines[1] == "1 staged, 2 modified (unstaged), 1 untracked."
    assert "## main" in lines
    assert " M app.py" in lines and "M  lib.py" in lines and "?? new.txt" in lines


async def test_status_of_a_clean_new_repo(tmp_path: Path) -> None:
    init_repo(tmp_path)
    out = await call(status, make_ctx(tmp_path))
    assert out.content.startswith("On branch main (no commits)\nWorking tree clean.")


def test_summary_reads_tracking_and_conflicts() -> None:
    text = "## main...origin/main [ahead 2, behind 1]\nUU a.py\nA  b.py\n"
    assert summarize_status(text) == (
        "On branch main (tracking origin/main, ahead 2, behind 1)\n"
        "1 staged, 0 modified (unstaged), 0 untracked, 1 with conflicts."
    )


async def test_diff_unstaged_staged_and_by_path(repo: Path) -> None:
    ctx = make_ctx(repo)
    unstaged = await call(diff, ctx)
    assert unstaged.ok
    assert "-print('v1')\n+print('v2')" in unstaged.content and "lib.py" not in unstaged.content
    staged = await call(diff, ctx, staged=True)
    assert "-x = 1\n+x = 2" in staged.content and "app.py" not in staged.content
    one = await call(diff, ctx, path="lib.py")
    assert one.ok and one.content == "No unstaged changes in lib.py."
    outside = await call(diff, ctx, path="../x")
    assert not outside.ok


async def test_diff_never_shows_credential_files(repo: Path) -> None:
    out = await call(diff, make_ctx(repo))
    assert ".env" not in out.content and "secret" not in out.content
    only = await call(diff, make_ctx(repo), path=".env")
    assert "secret" not in only.content


async def test_repository_config_cannot_make_git_run_programs(repo: Path) -> None:
    marker = repo.parent / "ran"
    script = repo.parent / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    git(repo, "config", "core.fsmonitor", str(script))
    git(repo, "config", "diff.external", str(script))
    git(repo, "config", "core.pager", str(script))
    (repo / ".gitattributes").write_text("*.py diff=evil\n")
    git(repo, "config", "diff.evil.textconv", str(script))
    ctx = make_ctx(repo)
    assert (await call(status, ctx)).ok
    out = await call(diff, ctx)
    assert out.ok and "+print('v2')" in out.content
    assert not marker.exists(), "a repository setting made git run a program"


async def test_diff_output_is_capped(tmp_path: Path) -> None:
    init_repo(tmp_path)
    (tmp_path / "big.txt").write_text("a\n" * 5000)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "big")
    (tmp_path / "big.txt").write_text("b\n" * 5000)
    out = await call(diff, make_ctx(tmp_path, max_read_bytes=2000))
    assert out.ok and "diff cut at 2000" in out.content
    assert len(out.content) < 2200
