"""Running git without letting the repository run code: one set of flags, one environment.

A repository's own `.git/config` is written by whoever wrote the repository, and a few of its
settings make even "read-only" git commands execute programs (hooks, fsmonitor, pagers).
Every git command nanotui runs (the tools' reads, the checkpoints' plumbing, the session
header's HEAD, the sandbox's config copies) starts here, with those switched off on the
command line and with no variable of the caller's shell pointing git at another repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 30.0

SAFE_CONFIG = (
    # No hook may run (update-ref alone would run reference-transaction), and no fsmonitor
    # hook either; nothing is signed (that could prompt for a passphrase) or paged.
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "core.pager=cat",
    "-c",
    "color.ui=false",
    "-c",
    "core.quotepath=false",
    "-c",
    "advice.addEmbeddedRepo=false",
)
# Variables that would point git at another repository or change what it reads or runs.
_DROPPED_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG", "GIT_EXTERNAL_DIFF")


@dataclass(frozen=True)
class GitOutput:
    """What one git command said: its exit code, its raw stdout and its stderr as text."""

    returncode: int
    stdout: bytes
    stderr: str


class GitUnavailable(Exception):
    """git is not installed or did not answer in time; the message is one sentence."""


def git_env(extra: Mapping[str, str] | None = None, *, look_only: bool = True) -> dict[str, str]:
    """The caller's environment without repository pointers, plus `extra`.

    `look_only` keeps git from rewriting the index while it only looks (`git status`);
    the checkpoints' own private index wants those refreshes, so they pass False.
    """
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    if look_only:
        env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"  # messages we parse stay in English
    env.update(extra or {})
    return env


def git_argv(args: Sequence[str]) -> list[str]:
    """`git <safe config> <args>`, for the few callers that start git another way."""
    return ["git", *SAFE_CONFIG, *args]


def run_git_sync(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout_s: float | None = GIT_TIMEOUT_S,
    look_only: bool = True,
) -> GitOutput:
    """Run `git <safe config> <args>` in `cwd` and wait; `env` adds to `git_env`."""
    try:
        done = subprocess.run(
            git_argv(args),
            cwd=cwd,
            env=git_env(env, look_only=look_only),
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitUnavailable("git is not installed (or not on PATH).") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitUnavailable(f"git {args[0]} did not finish within {timeout_s:g} s.") from exc
    return GitOutput(done.returncode, done.stdout, done.stderr.decode("utf-8", errors="replace"))


async def run_git(args: Sequence[str], cwd: Path, timeout_s: float = GIT_TIMEOUT_S) -> GitOutput:
    """Run `git <safe config> <args>` in `cwd`, killing it if it takes longer than timeout_s."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *git_argv(args),
            cwd=cwd,
            env=git_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise GitUnavailable("git is not installed (or not on PATH).") from exc
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError as exc:
        raise GitUnavailable(f"git {args[0]} did not finish within {timeout_s:g} s.") from exc
    finally:
        if proc.returncode is None:
            # os.kill, not proc.kill(): Popen's kill reaps a just-exited child behind asyncio's
            # back, which then logs "Unknown child process".
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode is not None
    return GitOutput(proc.returncode, stdout, stderr.decode("utf-8", errors="replace"))


# ---- the questions several layers ask ------------------------------------------------------


def tracked_files(cwd: Path, timeout_s: float = 10.0) -> list[str]:
    """The paths git tracks in the work tree at `cwd` (relative, as git prints them); none
    when it is not a repository or git cannot say. Blocking: for the command policy."""
    try:
        done = run_git_sync(["ls-files", "-z"], cwd, timeout_s=timeout_s)
    except (OSError, GitUnavailable):
        return []
    if done.returncode != 0:
        return []
    return [path for path in done.stdout.decode("utf-8", errors="replace").split("\0") if path]


def head_commit(cwd: Path, timeout_s: float = 10.0) -> str | None:
    """The commit checked out at `cwd`, or None outside a repository (or without git)."""
    try:
        done = run_git_sync(["rev-parse", "--verify", "-q", "HEAD"], cwd, timeout_s=timeout_s)
    except (OSError, GitUnavailable):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode().strip() or None


async def inside_work_tree(path: Path) -> bool:
    """True when `path` is inside a git work tree (and git is available)."""
    try:
        out = await run_git(["rev-parse", "--is-inside-work-tree"], path)
    except GitUnavailable:
        return False
    return out.returncode == 0 and out.stdout.strip() == b"true"
