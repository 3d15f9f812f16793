"""A credential file git tracks cannot be printed from its history in full-auto either.

bwrap hides `.env` from every program, but `git show HEAD:.env` reads the committed copy from
`.git/objects`. In a real repository that commits one, the agent's own decision path (the
`nanotui tool` command, full-auto) refuses such git lines without a person and runs the
harmless ones; a repository that tracks no credential file is judged as before.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from nanotui.cli.main import main
from nanotui.security.sandbox.choose import probe_backends
from nanotui.security.shell.git_reads import prints_file_contents

# Assembled here so that the tree's own secret scan does not take it for a real one.
SECRET = "API_TOKEN" + "=" + "tracked-in-history-0123456789"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    git(folder, "config", "user.email", "dev@example.invalid")
    git(folder, "config", "user.name", "dev")
    (folder / "app.py").write_text("print('hi')\n")
    (folder / ".env").write_text(SECRET + "\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "first")
    return folder


def run_command(repo: Path, line: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(
        [
            *("tool", "run_command", "--json", "--mode", "full-auto", "--workspace", str(repo)),
            *("--args", json.dumps({"command": line})),
        ]
    )
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "line",
    [
        "git show HEAD:.env",
        "git cat-file -p HEAD:.env",
        "git log -p",
        "git diff HEAD~0 --cached",
        "git grep TOKEN HEAD",
        # Yes-or-no searches spell a secret out one guess at a time.
        "git log -G 'API_TOKEN=t' --oneline",
        "git log -S API_TOKEN --oneline",
        # A command run by git is not judged by the policy.
        "git rebase -x 'git show HEAD:.env' --root",
        "git log --remerge-diff",
        "git log --binary",
    ],
)
def test_git_lines_that_can_print_a_tracked_env_are_not_run_in_full_auto(
    repo: Path, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = run_command(repo, line, capsys)
    assert code == 2, said
    # `rebase -x` is asked about for running a command at all, before the credential check.
    reason = "passes `-x` to git" if " -x " in line else "credential file git tracks"
    assert reason in json.dumps(said)
    assert SECRET not in json.dumps(said)


def test_git_running_a_command_that_prints_a_tracked_env_is_not_run_in_full_auto(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under Landlock the work tree's .env is readable, so git runs the printing command
    # happily; under bwrap the hidden .env looks changed and the rebase stops by chance.
    if probe_backends()["landlock"]:
        pytest.skip("Landlock does not start here")
    monkeypatch.setenv("NANOTUI_SANDBOX__BACKEND", "landlock")
    code, said = run_command(repo, "git rebase -x 'git show HEAD:.env | base64' --root", capsys)
    assert code == 2, said
    encoded = base64.b64encode(SECRET.encode()).decode()[:20]
    assert encoded not in json.dumps(said)


def test_git_lines_that_only_name_or_count_files_still_run(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = run_command(repo, "git log --oneline && git ls-files", capsys)
    assert code == 0, said
    assert "first" in json.dumps(said)


def test_a_repository_without_a_tracked_credential_is_judged_as_before(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "rm", "-q", "--cached", ".env")
    git(repo, "commit", "-qm", "untrack")
    code, said = run_command(repo, "git show HEAD:app.py", capsys)
    assert code == 0 and "print('hi')" in json.dumps(said)


@pytest.mark.parametrize(
    ("words", "prints"),
    [
        ("git status", False),
        ("git log --oneline -5", False),
        ("git log -p", True),
        ("git log -L1,2:app.py", True),
        ("git diff --name-only", False),
        ("git diff", True),
        ("git commit -v", True),
        ("git stash show", True),
        ("git stash list", False),
        ("git -C elsewhere status", True),
        ("git blame app.py", True),
        ("git --version", False),
        ("git log -c", True),
        ("git log -Gsecret --oneline", True),
        ("git rebase --exec=true main", True),
        ("git rebase main", False),
        ("git diff --stat --check", True),
        ("git add -u", False),
        ("git stash -u", False),
        ("git remote -v", False),
        ("git status -v", True),
        ("git --config-env=core.pager=P log", True),
    ],
)
def test_which_git_lines_can_print_contents(words: str, prints: bool) -> None:
    assert prints_file_contents(words.split()) is prints
