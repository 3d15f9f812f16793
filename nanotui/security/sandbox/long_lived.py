"""A long-lived program in the command sandbox, spoken to through its stdin and stdout.

Commands run once and end (`process.run_process`); an MCP server runs for the whole session
and answers on its pipes. It starts the way a command does: the backend wraps its argv
(`ProgramLauncher.launch`: bwrap, or the Landlock launcher), it is held at a gate while its
resource limits and cgroups go on, and it leads a session and process group of its own. It
dies with the session (`aclose`: stdin closed, a moment to exit, then the whole group, what
left it and its cgroup killed) and with nanotui: bwrap by --die-with-parent, the Landlock and
plain launchers by the death signal their reaper sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections import deque

from nanotui.security.sandbox.base import LaunchPlan
from nanotui.security.sandbox.cgroup import PidsCgroup
from nanotui.security.sandbox.memory_cgroup import MemoryCgroup
from nanotui.security.sandbox.process import (
    RELEASE,
    _apply_limits,
    _exited,
    _kill_group,
)
from nanotui.security.sandbox.spawn import (
    READ_CHUNK,
    CommandStartError,
    Spawned,
    hold_with_sh,
    spawn_argv,
)

EXIT_GRACE_S = 2.0
"""How long a program whose stdin was closed gets to exit on its own (the MCP way to stop)."""
STDERR_KEPT = 4096
"""How much of the end of its stderr is kept, to say why it failed."""


class LongLivedProcess:
    """A started program: its pipes, how it ended, and `aclose` to end it."""

    def __init__(
        self,
        spawned: Spawned,
        plan: LaunchPlan,
        pids: PidsCgroup | None = None,
        memory: MemoryCgroup | None = None,
    ) -> None:
        self._spawned = spawned
        self.plan = plan
        self._pids = pids
        self._memory = memory
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        self._draining = asyncio.ensure_future(self._drain_stderr())
        self._closed = False

    @property
    def pid(self) -> int:
        return self._spawned.pid

    @property
    def stdin(self) -> asyncio.StreamWriter:
        assert self._spawned.proc.stdin is not None
        return self._spawned.proc.stdin

    @property
    def stdout(self) -> asyncio.StreamReader:
        return self._spawned.stdout

    @property
    def returncode(self) -> int | None:
        return self._spawned.returncode

    def stderr_tail(self) -> str:
        """The last of what it wrote to stderr (its own words on why it failed)."""
        return b"".join(self._stderr).decode("utf-8", errors="replace").strip()

    async def _drain_stderr(self) -> None:
        while chunk := await self._spawned.stderr.read(READ_CHUNK):
            self._stderr.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size > STDERR_KEPT and len(self._stderr) > 1:
                self._stderr_size -= len(self._stderr.popleft())

    async def aclose(self) -> None:
        """Close its stdin, let it exit, then kill whatever of it is left; undo the plan."""
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(OSError, RuntimeError):
                self.stdin.close()
            if not await _exited(self._spawned, EXIT_GRACE_S):
                await _kill_group(self._spawned, self.pid)
        finally:
            # Not skipped by a cancellation: nothing of it may outlive the session.
            _release(self._pids, self._memory)
            self._draining.cancel()
            self.plan.undo()
            self._spawned.close()


async def start_long_lived(plan: LaunchPlan) -> LongLivedProcess:
    """Start the plan's program held at a gate, set its limits (the backend's for commands),
    release it."""
    limits = plan.limits
    rlimits = limits.rlimits() if limits else []
    pids = PidsCgroup.create(limits.max_processes) if limits and limits.max_processes else None
    memory = MemoryCgroup.create(limits.memory_mb) if limits and limits.memory_mb else None
    gate_read, gate_write = os.pipe()
    try:
        try:
            spawned = await spawn_argv(
                hold_with_sh(plan.argv, gate_fd=gate_read),
                plan.cwd,
                plan.env,
                subprocess.PIPE,
                (gate_read, *plan.pass_fds),
            )
        finally:
            os.close(gate_read)  # the child has its copy
        try:
            _apply_limits(spawned.pid, rlimits, pids, memory)
        except OSError as exc:
            # Never release a program whose limits did not take: kill it where it waits.
            await _kill_group(spawned, spawned.pid)
            raise CommandStartError(
                f"The program's limits could not be set: {exc.strerror or exc}."
            ) from exc
        os.write(gate_write, RELEASE)
    except BaseException:
        _release(pids, memory)
        plan.undo()
        raise
    finally:
        os.close(gate_write)
    return LongLivedProcess(spawned, plan, pids, memory)


def _release(pids: PidsCgroup | None, memory: MemoryCgroup | None) -> None:
    """Kill what is left in the cgroups (what escaped the process group) and let them go."""
    if pids:
        pids.kill_all_and_release()
    if memory:
        memory.kill_all()
        memory.release_later()
