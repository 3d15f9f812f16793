"""Each served session works in a git worktree of its project, on a branch of its own.

Two users on one repository never touch each other's files, and the project's own checkout
is never changed: what a session did is its branch `nanotui/<session>`, or the patch
`session_patch` returns.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nanotui.protocol.basics import UserFacingError
from nanotui.security.jail.git_runner import GitUnavailable, run_git_sync

BRANCH_PREFIX = "nanotui/"


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str
    base: str
    """The commit the session started from (the project's HEAD then)."""


def _git(args: list[str], cwd: Path, **kwargs: object) -> bytes:
    try:
        done = run_git_sync(args, cwd, look_only=False, **kwargs)  # type: ignore[arg-type]
    except GitUnavailable as exc:
        raise UserFacingError(str(exc)) from exc
    if done.returncode != 0:
        first = done.stderr.strip().splitlines()[:1]
        raise UserFacingError(f"git {args[0]} failed: {first[0] if first else 'no message'}.")
    return done.stdout


def add_worktree(project: Path, session_id: str, folder: Path) -> Worktree:
    """A new worktree of `project` at `folder`, on branch nanotui/<session_id> from HEAD."""
    head = run_git_sync(["rev-parse", "--verify", "-q", "HEAD^{commit}"], project)
    if head.returncode != 0:
        raise UserFacingError(
            f"The project at {project.name} has no commit yet; commit something first."
        )
    base = head.stdout.decode().strip()
    branch = f"{BRANCH_PREFIX}{session_id}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    _git(["worktree", "add", "-q", "-b", branch, str(folder), base], project)
    return Worktree(folder, branch, base)


def remove_worktree(project: Path, worktree: Worktree) -> None:
    """Remove the folder; the branch stays (it is the session's result)."""
    _git(["worktree", "remove", "--force", str(worktree.path)], project)


def session_patch(worktree: Worktree) -> str:
    """Everything the session changed since it started, untracked files included, as one
    patch `git apply` takes; the worktree's own index is left as it was."""
    folder = Path(tempfile.mkdtemp(prefix="nanotui-index-"))
    try:
        env = {"GIT_INDEX_FILE": str(folder / "index")}
        _git(["read-tree", worktree.base], worktree.path, env=env)
        _git(["add", "-A", "--", "."], worktree.path, env=env)
        patch = _git(
            ["diff", "--cached", "--binary", "--no-color", worktree.base],
            worktree.path,
            env=env,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return patch.decode("utf-8", errors="replace")
