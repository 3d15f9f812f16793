"""git's config files reach a command without the credentials they hold: the token a CI
checkout leaves in `.git/config`, a token in the remote's URL, one in `~/.gitconfig`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanotui.security.sandbox.bwrap import BwrapRunner, git_config_copies, probe_bwrap

pytestmark = pytest.mark.skipif(
    probe_bwrap() is not None, reason=f"bwrap does not start here: {probe_bwrap()}"
)
# Assembled here so that the tree's own secret scan does not take them for real ones.
REMOTE_TOKEN = "ghs_" + "plantedremote0123456789"
HEADER = "AUTHORIZATION: basic " + "eC1hY2Nlc3MtdG9rZW46cGxhbnRlZA=="
HOME_TOKEN = "glpat-" + "plantedhome0123456789"
HELPER_TOKEN = "planted" + "-helper-password"


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def home() -> Iterator[Path]:
    # Outside /tmp, which bwrap replaces by a private one: where a real home would be.
    folder = Path(tempfile.mkdtemp(prefix="nanotui-home-", dir="/var/tmp"))
    try:
        (folder / ".gitconfig").write_text(
            "[user]\n\tname = Dev Eloper\n\temail = dev@example.invalid\n"
            f'[url "https://oauth2:{HOME_TOKEN}@gitlab.example/"]\n'
            "\tinsteadOf = https://gitlab.example/\n"
            f'[credential]\n\thelper = "!f() {{ echo password={HELPER_TOKEN}; }}; f"\n'
            "[alias]\n\tst = status --short\n"
        )
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(
        repo, "config", "remote.origin.url", f"https://x-access-token:{REMOTE_TOKEN}@github.com/o/r"
    )
    git(repo, "config", "http.https://github.com/.extraheader", HEADER)
    (repo / "app.py").write_text("print('app')\n")
    git(repo, "add", "app.py")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return repo


async def test_git_config_reaches_a_command_without_its_credentials(
    checkout: Path, home: Path
) -> None:
    before = (checkout / ".git" / "config").read_text()
    script = (
        "cat .git/config; base64 .git/config; git config --list; "
        "cat ~/.gitconfig; od -c ~/.gitconfig; "
        "git log --oneline; git st; git config user.name; git remote get-url origin"
    )
    result = await BwrapRunner(checkout).run(
        script, cwd=checkout, timeout_s=30, max_output_bytes=200_000, env={"HOME": str(home)}
    )
    said = result.stdout + result.stderr
    for secret in (REMOTE_TOKEN, "eC1hY2Nlc3MtdG9rZW46", HOME_TOKEN, HELPER_TOKEN):
        assert secret not in said
    assert "cGxhbnRlZ" not in said and "p   l   a   n   t" not in said
    # git still works with what is left: history, aliases, the user's name, the remote.
    assert "first" in result.stdout and "Dev Eloper" in result.stdout, said
    assert "https://github.com/o/r" in result.stdout
    assert (checkout / ".git" / "config").read_text() == before


def test_config_without_credentials_is_shown_as_it_is(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    repo.mkdir()
    git(repo, "init", "-q")
    copies, folder = git_config_copies(repo, {"HOME": str(tmp_path / "nohome")}, [".gitconfig"])
    assert copies == [] and folder is None


async def test_a_credential_added_between_two_commands_is_kept_out_of_the_second(
    tmp_path: Path,
) -> None:
    # Each file's reading is kept while its stamp holds; a change must still be seen.
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "remote.origin.url", "https://github.com/o/r")
    runner = BwrapRunner(repo)
    first = await runner.run("cat .git/config", cwd=repo, timeout_s=30, max_output_bytes=10_000)
    assert "https://github.com/o/r" in first.stdout
    git(repo, "config", "remote.origin.url", f"https://x:{REMOTE_TOKEN}@github.com/o/r")
    second = await runner.run("cat .git/config", cwd=repo, timeout_s=30, max_output_bytes=10_000)
    assert "https://github.com/o/r" in second.stdout and REMOTE_TOKEN not in second.stdout


def test_git_failing_once_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A timeout under load shows the file empty for that command only: the next reads it.
    from nanotui.security.jail.git_runner import GitUnavailable
    from nanotui.security.sandbox import gitconfig

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "remote.origin.url", f"https://x:{REMOTE_TOKEN}@github.com/o/r")
    config = repo / ".git" / "config"
    real = gitconfig.run_git_sync

    def fails(*args: object, **kwargs: object) -> object:
        raise GitUnavailable("git took too long")

    monkeypatch.setattr(gitconfig, "run_git_sync", fails)
    assert gitconfig.without_credentials(config) == ""
    monkeypatch.setattr(gitconfig, "run_git_sync", real)
    shown = gitconfig.without_credentials(config)
    assert shown is not None and "https://github.com/o/r" in shown and REMOTE_TOKEN not in shown
