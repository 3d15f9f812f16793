"""Helpers for the checkpoint tests: isolated git, repositories, and reading a tree's state."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer config reaches git; NANOTUI_HOME is a fresh folder (returned)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", *IDENTITY):
        monkeypatch.delenv(name, raising=False)
    nanotui_home = tmp_path / "nanotui-home"
    monkeypatch.setenv("NANOTUI_HOME", str(nanotui_home))
    return nanotui_home


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in `repo` as a user would (with an identity only for the commands that need it)."""
    done = subprocess.run(
        ["git", "-c", "protocol.file.allow=always", *args],
        cwd=repo,
        env={**os.environ, **IDENTITY, "GIT_OPTIONAL_LOCKS": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def make_repo(path: Path, files: dict[str, str | bytes] | None = None) -> Path:
    """A repository at `path` with `files` committed (nothing committed when None)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if files is not None:
        write_files(path, files)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
    return path


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)


def read_state(root: Path) -> dict[str, tuple]:
    """Every file under `root` but .git: ("link", target) or ("file", bytes, executable)."""
    state: dict[str, tuple] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git" or Path(folder) != root]
        for name in names + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                state[relative] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                state[relative] = ("file", path.read_bytes(), bool(info.st_mode & 0o100))
    return state


def git_state(repo: Path) -> dict[str, object]:
    """Everything of the user's git state a checkpoint must not change, as bytes or text."""
    git_dir = Path(git(repo, "rev-parse", "--absolute-git-dir").strip())
    common = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    common = common if common.is_absolute() else (repo / common).resolve()
    refs = [
        line
        for line in git(repo, "for-each-ref", "--format=%(objectname) %(refname)").splitlines()
        if " refs/nanotui/" not in line
    ]
    hooks = common / "hooks"
    return {
        "index": (git_dir / "index").read_bytes() if (git_dir / "index").exists() else None,
        "HEAD": (git_dir / "HEAD").read_bytes(),
        "config": (common / "config").read_bytes(),
        "hooks": {p.name: p.read_bytes() for p in hooks.iterdir()} if hooks.is_dir() else {},
        "refs": refs,
        "stash": git(repo, "stash", "list"),
        "status": git(repo, "status", "--porcelain=v2", "--untracked-files=all"),
    }
