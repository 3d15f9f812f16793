"""Running git for checkpoints: no hooks, no fsmonitor, no user identity, no stray env."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import git

from nanotui.protocol.checkpoints import CheckpointError

IDENTITY = {
    "GIT_AUTHOR_NAME": "nanotui",
    "GIT_AUTHOR_EMAIL": "checkpoints@nanotui.invalid",
    "GIT_COMMITTER_NAME": "nanotui",
    "GIT_COMMITTER_EMAIL": "checkpoints@nanotui.invalid",
}
"""Checkpoint commits carry their own identity, so no user.name or user.email is needed."""

SAFE_CONFIG = (
    # No hook may run (update-ref alone would run reference-transaction), and no fsmonitor
    # hook either; checkpoint commits are never signed (that could prompt for a passphrase).
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "advice.addEmbeddedRepo=false",
)


class GitRunner:
    """Plumbing commands against one git directory and work tree, through GitPython."""

    def __init__(self, git_dir: Path, work_tree: Path, index: Path) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        # Commands run from the top of the work tree, so pathspecs are relative to it.
        self.git = git.Git(str(work_tree))
        # Every command names its git directory, work tree and index explicitly: a
        # GIT_INDEX_FILE left in the caller's shell must never point us at the user's index.
        self.git.update_environment(
            GIT_DIR=str(git_dir),
            GIT_WORK_TREE=str(work_tree),
            GIT_INDEX_FILE=str(index),
            GIT_TERMINAL_PROMPT="0",
            **IDENTITY,
        )

    def run(
        self,
        *args: str,
        index: Path | None = None,
        stdin: bytes | None = None,
        ok_codes: Iterable[int] = (0,),
    ) -> bytes:
        """Run `git <args>`; stdout as bytes, or CheckpointError naming the command."""
        env = {"GIT_INDEX_FILE": str(index)} if index else None
        with tempfile.TemporaryFile() as feed:
            if stdin is not None:
                feed.write(stdin)
                feed.seek(0)
            try:
                status, out, err = self.git.execute(
                    ["git", *SAFE_CONFIG, *args],
                    istream=feed if stdin is not None else None,
                    env=env,
                    with_extended_output=True,
                    with_exceptions=False,
                    stdout_as_string=False,
                    strip_newline_in_stdout=False,
                )
            except git.GitCommandNotFound:
                message = "git is not installed; install it to use checkpoints."
                raise CheckpointError(message) from None
        if status not in tuple(ok_codes):
            detail = err.decode(errors="replace") if isinstance(err, bytes) else str(err)
            reason = detail.strip().splitlines()[-1] if detail.strip() else f"exit {status}"
            raise CheckpointError(f"git {args[0]} failed ({reason}).")
        return out

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
