"""Shared by the sandbox tests: a runner per backend, and finding a test's processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanotui.config import SandboxConfig
from nanotui.security.sandbox.base import CommandRunner
from nanotui.security.sandbox.choose import make_runner, probe_backends

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
    from nanotui.security.sandbox.bwrap import BwrapRunner
    from nanotui.security.sandbox.landlock import LandlockRunner

    problem = probe_backends()[backend]
    if problem:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    return BwrapRunner(workspace) if backend == "bwrap" else LandlockRunner(workspace)


@contextlib.contextmanager
def bounded_memory_cgroup(name: str, limit_mb: int) -> Iterator[Path]:
    """A memory cgroup of `limit_mb` (swap included) beside nanotui's, for memory tests: what
    runs in it, or in cgroups made below it, cannot take more whatever the code under test
    does. Everything in it is killed and it is removed afterwards."""
    from nanotui.security.sandbox import cgroup as sandbox_cgroup
    from nanotui.security.sandbox import memory_cgroup

    parent = sandbox_cgroup.memory_cgroup_parent()
    if parent is None:
        pytest.skip("no memory cgroup can be made here: memory is limited per process")
    bound = parent / f"nanotui-test-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    bound.mkdir()
    try:
        limit = str(limit_mb << 20)
        if (bound / "memory.limit_in_bytes").exists():
            (bound / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):
                (bound / "memory.memsw.limit_in_bytes").write_text(limit)
        else:
            (bound / "memory.max").write_text(limit)
            (bound / "memory.swap.max").write_text("0")
        yield bound
    finally:
        # Not while the cleaner's thread removes or makes cgroups in it.
        settle_cgroup_cleaner()
        for made in list(memory_cgroup._made_ahead):
            if bound in made.path.parents:
                memory_cgroup._made_ahead.remove(made)
        for child in sorted(bound.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            sandbox_cgroup.kill_tasks(child / "cgroup.procs")
            sandbox_cgroup.remove_folder(child)


def cgroup_parent_or_skip(controller: str) -> Path:
    """Where commands' `controller` ("pids" or "memory") cgroups go, with nothing left on the
    cleaner's thread; the test is skipped where none can be made."""
    from nanotui.security.sandbox import cgroup as sandbox_cgroup

    probe = {
        "pids": sandbox_cgroup.pids_cgroup_parent,
        "memory": sandbox_cgroup.memory_cgroup_parent,
    }
    parent = probe[controller]()
    if parent is None:
        pytest.skip(f"no {controller} cgroup can be made here")
    settle_cgroup_cleaner()
    return parent


def settle_cgroup_cleaner() -> None:
    """Wait until what the cgroup cleaner's thread was given is done."""
    from nanotui.security.sandbox import cgroup as sandbox_cgroup

    sandbox_cgroup.cleaner.submit(lambda: None).result(timeout=30)


def pids_with(marker: str) -> list[int]:
    """Host pids whose command line mentions `marker` (how we find a sandbox's processes)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def sleeps_with(marker: str) -> list[int]:
    """The `sleep` processes among them: the commands themselves, not the shell whose
    command line names them (one that ends between the two looks is left out)."""
    found = []
    for pid in pids_with(marker):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text() == "sleep\n":
                found.append(pid)
    return found


def kill_all(marker: str) -> None:
    for pid in pids_with(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def none_left(marker: str, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not pids_with(marker):
            return True
        await asyncio.sleep(0.05)
    return not pids_with(marker)
