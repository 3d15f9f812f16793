"""Running read-only git commands for the tools, without letting the repository run code.

A repository's own `.git/config` is written by whoever wrote the repository, and a few of its
settings make even "read-only" git commands execute programs (fsmonitor, pagers, external diff
and textconv drivers). The tools switch those off on the command line, and keep git from
writing the index while it only looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 30.0

SAFE_CONFIG = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "color.ui=false",
    "-c",
    "core.quotepath=false",
)
# Variables that would point git at another repository or change what it reads.
_DROPPED_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG", "GIT_EXTERNAL_DIFF")


@dataclass(frozen=True)
class GitOutput:
    returncode: int
    stdout: bytes
    stderr: str


class GitUnavailable(Exception):
    """git is not installed or did not answer in time; the message is one sentence."""


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # `git status` must not rewrite the index while looking
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"  # messages we parse stay in English
    return env


def tracked_files(cwd: Path, timeout_s: float = 10.0) -> list[str]:
    """The paths git tracks in the work tree at `cwd` (relative, as git prints them); none
    when it is not a repository or git cannot say. Blocking: for the command policy."""
    try:
        done = subprocess.run(
            ["git", *SAFE_CONFIG, "ls-files", "-z"],
            cwd=cwd,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [path for path in done.stdout.decode("utf-8", errors="replace").split("\0") if path]


async def run_git(args: list[str], cwd: Path, timeout_s: float = GIT_TIMEOUT_S) -> GitOutput:
    """Run `git <safe config> <args>` in `cwd`, killing it if it takes longer than timeout_s."""
    env = _git_env()
    try:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *SAFE_CONFIG,
            *args,
            cwd=cwd,
            env=env,
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


async def inside_work_tree(path: Path) -> bool:
    """True when `path` is inside a git work tree (and git is available)."""
    try:
        out = await run_git(["rev-parse", "--is-inside-work-tree"], path)
    except GitUnavailable:
        return False
    return out.returncode == 0 and out.stdout.strip() == b"true"
