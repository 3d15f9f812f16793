"""Shared by the sandbox tests: a runner per backend, and finding a test's processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from nanotui.config import SandboxConfig
from nanotui.security.sandbox import CommandRunner, make_runner, probe_backends

BACKENDS = ["bwrap", "landlock", "plain"]
ISOLATING = ["bwrap", "landlock"]


def runner_for(backend: str, workspace: Path, **settings: object) -> CommandRunner:
    problem = probe_backends()[backend]
    if problem:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    runner = make_runner(SandboxConfig(backend=backend, **settings), workspace)
    assert runner.backend == backend
    return runner


def bare_runner(backend: str, workspace: Path) -> CommandRunner:
    """The backend's own runner with its defaults (no settings, no guard around it)."""
    from nanotui.security.sandbox_bwrap import BwrapRunner
    from nanotui.security.sandbox_landlock import LandlockRunner

    problem = probe_backends()[backend]
    if problem:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    return BwrapRunner(workspace) if backend == "bwrap" else LandlockRunner(workspace)


def pids_with(marker: str) -> list[int]:
    """Host pids whose command line mentions `marker` (how we find a sandbox's processes)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def kill_all(marker: str) -> None:
    for pid in pids_with(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def none_left(marker: str, within_s: float = 2.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not pids_with(marker):
            return True
        await asyncio.sleep(0.05)
    return not pids_with(marker)
