"""Where a workspace's checkpoints live: its own repository, or a shadow one for plain folders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import git

from nanotui import paths
from nanotui.protocol.atomic_write import write_atomically
from nanotui.protocol.checkpoints import CheckpointError
from nanotui.security.jail.git_runner import GitUnavailable, run_git_sync
from nanotui.vcs.file_lock import locked
from nanotui.vcs.gitrunner import GitRunner

SHADOW_EXCLUDES = """\
# Rebuildable folders a plain folder's checkpoints leave out (a repository's .gitignore rules).
node_modules/
.venv/
venv/
__pycache__/
.mypy_cache/
.pytest_cache/
.ruff_cache/
.tox/
"""

MADE_WHOLE = "nanotui-workspace"
"""The file a shadow store's creation writes last, naming the folder it is for."""


@dataclass(frozen=True)
class Storage:
    """The git directory holding a workspace's checkpoints, and nanotui's files beside it."""

    root: Path
    """The top of the work tree a checkpoint covers (the repository's, or the folder)."""
    git_dir: Path
    """The per-worktree git directory (the shadow repository for a plain folder)."""
    shadow: bool
    user_index: Path | None
    """The user's index, copied to seed the private one; never written."""
    private_index: Path
    """nanotui's own index of the work tree: its stat and untracked caches make snapshots fast."""
    worktree: str
    """"" for a main work tree, the linked worktree's name otherwise."""

    @property
    def lock_file(self) -> Path:
        return self.private_index.with_suffix(".lock-nanotui")

    @property
    def seed_file(self) -> Path:
        return self.private_index.with_suffix(".seed.json")

    @property
    def scratch_dir(self) -> Path:
        """Restore's temporary files: inside the git directory, so renames stay on one disk."""
        return self.git_dir / "nanotui-restore"


def locate(workspace: Path) -> tuple[Storage, GitRunner]:
    """The storage for `workspace` (creating a shadow repository if it needs one)."""
    workspace = workspace.resolve()
    if not workspace.is_dir():
        raise CheckpointError(f"{workspace} is not a folder, so it has no checkpoints.")
    try:
        repo = git.Repo(workspace, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return _shadow_storage(workspace)
    if repo.bare or repo.working_tree_dir is None:
        repo.close()
        return _shadow_storage(workspace)
    root = Path(repo.working_tree_dir).resolve()
    git_dir = Path(repo.git_dir).resolve()
    common_dir = Path(repo.common_dir).resolve()
    repo.close()
    worktree = git_dir.name if git_dir != common_dir else ""
    key = _key(str(git_dir))
    storage = Storage(
        root=root,
        git_dir=git_dir,
        shadow=False,
        user_index=git_dir / "index",
        private_index=_indexes_dir() / f"{key}.index",
        worktree=worktree,
    )
    return storage, GitRunner(git_dir, root, storage.private_index)


def _shadow_storage(folder: Path) -> tuple[Storage, GitRunner]:
    shadow = paths.ensure_private_dir(paths.state_dir() / "checkpoints" / _key(str(folder)))
    if not (shadow / MADE_WHOLE).is_file():
        # The session's warm-up and the checkpoint browser (or two nanotuis) may both come
        # first, and two `git init`s in one folder at once can fail: one makes the store,
        # the other waits and finds it made.
        with locked(shadow / "nanotui-init.lock"):
            if not (shadow / MADE_WHOLE).is_file():
                _init_shadow(shadow, folder)
    storage = Storage(
        root=folder,
        git_dir=shadow,
        shadow=True,
        user_index=None,
        private_index=shadow / "index",
        worktree="",
    )
    return storage, GitRunner(shadow, folder, storage.private_index)


def _init_shadow(shadow: Path, folder: Path) -> None:
    # An empty template: no sample hooks, nothing but what git needs.
    try:
        done = run_git_sync(
            ["init", "--quiet", "--bare", "--template=", str(shadow)],
            shadow,
            env={"GIT_DIR": str(shadow)},
        )
    except GitUnavailable:
        done = None
    if done is None or done.returncode != 0:
        raise CheckpointError(
            f"Could not create the checkpoint store in {shadow}; check that git works "
            "and NANOTUI_HOME is writable."
        )
    (shadow / "info").mkdir(exist_ok=True)
    (shadow / "info" / "exclude").write_text(SHADOW_EXCLUDES)
    write_atomically(shadow / MADE_WHOLE, f"{folder}\n")  # last: the store is whole


def _indexes_dir() -> Path:
    return paths.ensure_private_dir(paths.state_dir() / "checkpoints" / "indexes")


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
