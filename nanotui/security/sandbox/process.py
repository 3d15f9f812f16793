"""Running a command for any backend: limits, process group, capped output, sure kill.

Every backend ends in the same place: a process started in its own session with stdin
closed, held at a gate while nanotui sets its resource limits and moves it into its own pids
and memory cgroups where the machine lets us, then released. bwrap is spawned as an argv
(`run_process`); the Landlock and plain backends' commands are forked by the fork server
(`fork_client`), and both come here as a `Started` (`run_started`). While it runs, a watch
looks every WATCH_POLL_S at what no rlimit bounds for the command as a whole (its memory on
cgroup v1, the bytes it added to disk) and stops it, saying why. When it times out, is
stopped or the caller is cancelled, the whole group is killed, then anything left in the
cgroups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nanotui.security.sandbox.cgroup import PidsCgroup
from nanotui.security.sandbox.memory_cgroup import MemoryCgroup
from nanotui.security.sandbox.output import Budget, HeadTail, finish
from nanotui.security.sandbox.process_reaper import descendants_of
from nanotui.security.sandbox.spawn import (
    READ_CHUNK,
    CommandStartError,
    Started,
    Starter,
    spawn_argv,
)
from nanotui.security.sandbox.spawn import hold_with_sh as hold_with_sh  # bwrap's
from nanotui.security.sandbox.workspace_growth import GrowthWatch

KILL_GRACE_S = 0.5
"""How long the group gets between SIGTERM and SIGKILL."""
PIPE_GRACE_S = 0.5
"""After the command exits, how long leftover background processes may keep its pipes open."""
WATCH_POLL_S = 0.2
"""How often the watch looks at the command's memory cgroup and at the disk it writes to."""


@dataclass(frozen=True)
class Limits:
    """A command's limits: rlimits set in the child, cgroups around it, the size of its
    private /tmp and what it may add to the disk; None leaves one as it is."""

    memory_mb: int | None = None
    max_processes: int | None = None
    max_file_mb: int | None = None
    cpu_time_s: int | None = None
    tmp_mb: int | None = None
    """Size of the command's private /tmp, where the backend makes one (bwrap)."""
    max_growth_mb: int | None = None
    """How much the command may add to the disks it can write to (`GrowthWatch`)."""

    def rlimits(self) -> list[tuple[int, int]]:
        """(resource, value) pairs, never above the hard limits this process already has."""
        mb = 1024 * 1024
        wanted = [
            (resource.RLIMIT_AS, self.memory_mb and self.memory_mb * mb),
            (resource.RLIMIT_FSIZE, self.max_file_mb and self.max_file_mb * mb),
            (resource.RLIMIT_CPU, self.cpu_time_s),
            (resource.RLIMIT_NPROC, self.max_processes and _nproc_limit(self.max_processes)),
        ]
        pairs = []
        for res, value in wanted:
            if not value:
                continue
            hard = resource.getrlimit(res)[1]
            pairs.append((res, value if hard == resource.RLIM_INFINITY else min(value, hard)))
        return pairs


def _nproc_limit(max_processes: int) -> int | None:
    # RLIMIT_NPROC counts every process of the real uid, not just the command's; so the
    # command gets max_processes on top of what the user runs now. Root is exempt from it
    # altogether (the pids cgroup is what holds a fork bomb there).
    uid = os.getuid()
    if uid == 0:
        return None
    running = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                running += entry.stat().st_uid == uid
    return running + max_processes


@dataclass
class ProcessOutcome:
    """What the process did, before a backend labels it as a CommandResult."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    duration_s: float
    stopped: str = ""
    """Why nanotui stopped the command before it ended on its own, other than the timeout."""


async def _drain(stream: asyncio.StreamReader, into: HeadTail) -> None:
    # Keep reading after the cap is reached: a child blocked on a full pipe would never end.
    while chunk := await stream.read(READ_CHUNK):
        into.add(chunk)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


RELEASE = b"\n"
"""One byte, a whole line to sh's `read`: the gate opens."""
ArgvBuilder = Callable[[bool], list[str]]
"""Given whether the start is held at a gate, the argv to spawn (see `hold_with_sh`)."""


async def _exited(child: Started, timeout_s: float) -> bool:
    """Wait until the command's first process has exited; False if it still runs after
    timeout_s."""
    # Not proc.wait(): on Python 3.11 that also waits for the pipes to close, which a
    # background child can hold open for as long as it likes. Not polling either: a poll
    # interval is added to every command's time.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(child.exited.wait(), max(0.0, timeout_s))
    return child.exited.is_set()


async def _kill_group(child: Started, pgid: int) -> None:
    """SIGTERM the whole group, give it a moment, then SIGKILL whatever is left, and the
    leader's descendants in sessions of their own (see below)."""
    # bwrap's sandbox leader runs in a session of its own, out of the group's reach; it dies
    # with bwrap only once it has armed --die-with-parent, and a bwrap killed in the moment
    # before (a window a loaded machine hits) leaves it running. So it is killed by pid.
    below = set(descendants_of(child.pid))
    try:
        _signal_group(pgid, signal.SIGTERM)
        await _exited(child, KILL_GRACE_S)
    finally:
        # In a finally so a second cancellation cannot skip it: members that ignored
        # SIGTERM, or outlived the leader, are still in the group.
        below.update(descendants_of(child.pid))
        _signal_group(pgid, signal.SIGKILL)
        for pid in below:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _apply_limits(
    pid: int,
    rlimits: list[tuple[int, int]],
    cgroup: PidsCgroup | None,
    memory: MemoryCgroup | None,
) -> None:
    """Limit the process held at the gate."""
    for res, value in rlimits:
        resource.prlimit(pid, res, (value, value))
    if cgroup:
        cgroup.add(pid)
    if memory:
        memory.add(pid)


class _Watch:
    """Polls the checks until one says why the command must stop, then stops it once.

    A timer on the loop, not a task: most commands end before the first look, and a task
    costs a start and a cancellation on every command's way."""

    def __init__(self, checks: Sequence[Callable[[], str]], stop: Callable[[], None]) -> None:
        self.checks = list(checks)
        self.stop = stop
        self.stopped = ""
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self.checks:
            self._timer = asyncio.get_running_loop().call_later(WATCH_POLL_S, self._tick)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _tick(self) -> None:
        self.look()
        if not self.stopped:
            self.start()

    def look(self) -> None:
        for check in self.checks:
            if said := check():
                self.stopped = said
                self.stop()
                return


async def run_process(
    build_argv: ArgvBuilder,
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    max_output_bytes: int,
    limits: Limits | None = None,
    writable: Sequence[Path] = (),
    pass_fds: Sequence[int] = (),
) -> ProcessOutcome:
    """Spawn the argv and run it to the end or the timeout (`run_started`); `pass_fds` are
    inherited by it.

    With limits, `build_argv` gets True and must return an argv that waits at the gate
    (`hold_with_sh`) until the limits are on.
    """

    async def start(gate: int | None) -> Started:
        return await spawn_argv(build_argv(gate is not None), cwd, env, gate, pass_fds)

    return await run_started(
        start,
        cwd=cwd,
        timeout_s=timeout_s,
        max_output_bytes=max_output_bytes,
        limits=limits,
        writable=writable,
    )


async def run_started(
    start: Starter,
    *,
    cwd: Path,
    timeout_s: float,
    max_output_bytes: int,
    limits: Limits | None = None,
    writable: Sequence[Path] = (),
    hold: bool = False,
) -> ProcessOutcome:
    """Start the command, limit it, run it to the end or the timeout; nothing it started
    outlives this call.

    The start is held at a gate when there are limits to set, or always with `hold` (a start
    that cannot be undone otherwise). `writable` names folders besides `cwd` whose disks
    count towards `max_growth_mb` (a private temp folder on the host).
    """
    started = time.monotonic()
    rlimits = limits.rlimits() if limits else []
    cgroup = PidsCgroup.create(limits.max_processes) if limits and limits.max_processes else None
    memory = MemoryCgroup.create(limits.memory_mb) if limits and limits.memory_mb else None
    # Before the start, so that nothing the command writes is left out of the baseline.
    growth = GrowthWatch.begin([cwd, *writable], limits.max_growth_mb if limits else None)
    gate_read = gate_write = None
    if hold or rlimits or cgroup or memory:
        gate_read, gate_write = os.pipe()
    try:
        # Bounded like the command: a start that hangs (a helper process stopped or stuck)
        # must not hold the agent past the time it gave the command.
        child = await asyncio.wait_for(start(gate_read), timeout_s)
    except BaseException as exc:
        if gate_write is not None:
            os.close(gate_write)  # a child held at the gate then starts nothing
        if cgroup:
            cgroup.kill_all_and_release()
        if memory:
            memory.release()
        if isinstance(exc, TimeoutError):
            raise CommandStartError(
                f"The command did not start within its {timeout_s:g} s timeout; try it again."
            ) from None
        raise
    finally:
        # The child has its copy; ours would keep the gate from closing.
        if gate_read is not None:
            os.close(gate_read)

    if gate_write is not None:
        try:
            _apply_limits(child.pid, rlimits, cgroup, memory)
        except OSError as exc:
            # Never release a command whose limits did not take: kill it where it waits.
            os.close(gate_write)
            _signal_group(child.pid, signal.SIGKILL)
            child.close()
            if cgroup:
                cgroup.kill_all_and_release()
            if memory:
                memory.release()
            raise CommandStartError(
                f"The command's limits could not be set: {exc.strerror or exc}."
            ) from exc
        os.write(gate_write, RELEASE)
        os.close(gate_write)

    # The child leads its own session and group: its pid is the pgid.
    pgid = child.pid
    budget = Budget(max_output_bytes)
    out, err = HeadTail(budget), HeadTail(budget)
    readers = [
        asyncio.ensure_future(_drain(child.stdout, out)),
        asyncio.ensure_future(_drain(child.stderr, err)),
    ]
    timed_out = False
    finished = False

    def stop() -> None:
        # The group, then the cgroups: bwrap's sandbox and what left the group with setsid.
        _signal_group(pgid, signal.SIGKILL)
        for group in (memory, cgroup):
            if group:
                group.kill_all()

    checks = [memory.check] if memory else []
    if growth.baselines:
        checks.append(growth.check)
    watch = _Watch(checks, stop)
    watch.start()
    try:
        if not await _exited(child, timeout_s):
            timed_out = True
            await _kill_group(child, pgid)
        # Background children may hold the pipes open after the leader exits; they belong to
        # the command, so they get a moment and are then killed with the rest of the group.
        _, pending = await asyncio.wait(readers, timeout=PIPE_GRACE_S)
        if pending:
            await _kill_group(child, pgid)
            await asyncio.wait(readers, timeout=PIPE_GRACE_S)
        finished = True
    finally:
        # Cancelled or failed mid-run, or leftovers that closed their pipes
        # (`cmd >/dev/null &`): nothing of the command may outlive the call.
        try:
            # A swept command left nothing in its group but its leader, on its way out.
            if not finished or (not child.swept and _group_alive(pgid)):
                await _kill_group(child, pgid)
        finally:
            # Not skipped by a second cancellation. bwrap's init runs in a session of its
            # own, out of killpg's reach; it dies with bwrap (--die-with-parent), and its
            # PID namespace with it.
            if cgroup:
                # Catches what left the group (setsid) and could not be reached by killpg. A
                # swept command's cgroup holds its copy on its way out at most: anything else
                # there was missed by the copy's look below it.
                left = cgroup.pids()
                if not (finished and child.swept) or set(left) - {child.pid}:
                    cgroup.kill_all()
                    left = cgroup.pids()
                cgroup.release(left)
            watch.cancel()
            for reader in readers:
                reader.cancel()
            child.close()
        await asyncio.gather(*readers, return_exceptions=True)

    # An OOM kill after the last look still counts: the command lost a process to it.
    stopped = watch.stopped or child.stopped or (memory.check() if memory else "")
    if memory:
        memory.release_later()

    (stdout, stderr), truncated = finish([out, err], max_output_bytes)
    return ProcessOutcome(
        exit_code=None if timed_out else child.returncode,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
        timed_out=timed_out,
        truncated=truncated,
        duration_s=round(time.monotonic() - started, 3),
        stopped=stopped,
    )
