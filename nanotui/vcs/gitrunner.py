"""Running git for checkpoints: against their own git directory and index, as nanotui."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import git

from nanotui.protocol.checkpoints import CheckpointError
from nanotui.security.jail.git_runner import SAFE_CONFIG, GitUnavailable, run_git_sync

IDENTITY = {
    "GIT_AUTHOR_NAME": "nanotui",
    "GIT_AUTHOR_EMAIL": "checkpoints@nanotui.invalid",
    "GIT_COMMITTER_NAME": "nanotui",
    "GIT_COMMITTER_EMAIL": "checkpoints@nanotui.invalid",
}
"""Checkpoint commits carry their own identity, so no user.name or user.email is needed."""

KEEP_FREED_MEMORY = {"MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024)}
"""glibc hands freed memory back to the system as soon as the heap's top is 128 KB free, and
git's update-index sets up a zlib stream for every file it stores: each one then faulted its
buffers in afresh and flushed the TLB on the way out. Keeping freed memory for the process's
short life halved update-index's time for 600 files (other C libraries ignore the variable)."""


class GitRunner:
    """Plumbing commands against one git directory, work tree and index, with the safe flags."""

    def __init__(self, git_dir: Path, work_tree: Path, index: Path) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        # Every command names its git directory, work tree and index explicitly: a
        # GIT_INDEX_FILE left in the caller's shell must never point us at the user's index.
        self.env = {
            "GIT_DIR": str(git_dir),
            "GIT_WORK_TREE": str(work_tree),
            "GIT_INDEX_FILE": str(index),
            **IDENTITY,
            **KEEP_FREED_MEMORY,
        }
        # Blobs come from GitPython's long-lived `cat-file --batch`, started with the same flags.
        self.git = git.Git(str(work_tree))
        self.git.update_environment(GIT_TERMINAL_PROMPT="0", **self.env)
        self.git.set_persistent_git_options(c=list(SAFE_CONFIG[1::2]))

    def run(
        self,
        *args: str,
        index: Path | None = None,
        stdin: bytes | None = None,
        ok_codes: Iterable[int] = (0,),
    ) -> bytes:
        """Run `git <args>`; stdout as bytes, or CheckpointError naming the command."""
        env = (self.env | {"GIT_INDEX_FILE": str(index)}) if index else self.env
        try:
            # Commands run from the top of the work tree, so pathspecs are relative to it;
            # no time limit, as a snapshot of a large tree takes what it takes. The private
            # index is ours, so git may refresh its stat cache (optional locks stay on).
            done = run_git_sync(
                args, self.work_tree, env=env, stdin=stdin, timeout_s=None, look_only=False
            )
        except GitUnavailable:
            message = "git is not installed; install it to use checkpoints."
            raise CheckpointError(message) from None
        if done.returncode not in tuple(ok_codes):
            detail = done.stderr.strip()
            reason = detail.splitlines()[-1] if detail else f"exit {done.returncode}"
            raise CheckpointError(f"git {args[0]} failed ({reason}).")
        return done.stdout

    def text(self, *args: str, index: Path | None = None) -> str:
        return self.run(*args, index=index).decode("utf-8", errors="surrogateescape").strip()

    def rev(self, name: str) -> str | None:
        """The object `name` points at, or None when it does not exist (an unborn HEAD)."""
        out = self.run("rev-parse", "--verify", "-q", name, ok_codes=(0, 1))
        return out.decode().strip() or None

    def blob(self, sha: str) -> bytes:
        """A blob's bytes, from GitPython's long-lived `cat-file --batch`."""
        return self.git.get_object_data(sha)[3]

    def close(self) -> None:
        self.git.clear_cache()


def nul_separated(paths: Iterable[str]) -> bytes:
    """Paths for a `-z --stdin` command: each ended by a NUL byte."""
    return b"".join(os.fsencode(path) + b"\0" for path in paths)
