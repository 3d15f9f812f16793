"""Spawning a command for any backend: limits, process group, capped output, sure kill.

Every backend ends in the same place: an argv (bwrap, or the launcher that runs bash) started
in its own session with stdin closed, resource limits set in the child, and, where the
machine lets us, its own pids and memory cgroups. While it runs, a watch looks every
WATCH_POLL_S at what no rlimit bounds for the command as a whole (its memory on cgroup v1,
the bytes it added to disk) and stops it, saying why. When it times out, is stopped or the
caller is cancelled, the whole group is killed, then anything left in the cgroups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nanotui.protocol.basics import UserFacingError
from nanotui.security.sandbox.cgroup import MemoryCgroup, PidsCgroup
from nanotui.security.sandbox.output import Budget, HeadTail, finish
from nanotui.security.sandbox.workspace_growth import GrowthWatch

READ_CHUNK = 64 * 1024
KILL_GRACE_S = 0.5
"""How long the group gets between SIGTERM and SIGKILL."""
PIPE_GRACE_S = 0.5
"""After the command exits, how long leftover background processes may keep its pipes open."""
WATCH_POLL_S = 0.2
"""How often the watch looks at the command's memory cgroup and at the disk it writes to."""


class CommandStartError(UserFacingError):
    """The command could not be started at all (no bash, a missing cwd, ...); one sentence."""


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


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol plus an event set the moment the child exits."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


async def _exited(proc: asyncio.subprocess.Process, timeout_s: float) -> bool:
    """Wait until the direct child has exited; False if it still runs after timeout_s."""
    # Not proc.wait(): on Python 3.11 that also waits for the pipes to close, which a
    # background child can hold open for as long as it likes. Not polling either: a poll
    # interval is added to every command's time.
    protocol = proc._protocol  # type: ignore[attr-defined]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(protocol.exited.wait(), max(0.0, timeout_s))
    return proc.returncode is not None


async def _kill_group(proc: asyncio.subprocess.Process, pgid: int) -> None:
    """SIGTERM the whole group, give it a moment, then SIGKILL whatever is left."""
    try:
        _signal_group(pgid, signal.SIGTERM)
        await _exited(proc, KILL_GRACE_S)
    finally:
        # In a finally so a second cancellation cannot skip it: members that ignored
        # SIGTERM, or outlived the leader, are still in the group.
        _signal_group(pgid, signal.SIGKILL)


RELEASE = b"\n"
"""One byte, a whole line to sh's `read`: the gate opens."""
ArgvBuilder = Callable[[bool], list[str]]
"""Given whether the start is held at a gate, the argv to spawn (see `hold_with_sh`)."""


def hold_with_sh(argv: Sequence[str]) -> list[str]:
    """argv preceded by a tiny sh that waits at the gate, then gives the command /dev/null.

    While it waits, the parent sets the resource limits on it (prlimit) and moves it into
    the command's cgroup, so everything the command forks inherits both. No Python runs in
    the child between fork and exec: preexec_fn would make every spawn fork the whole
    interpreter (~10 ms) and is unsafe with threads. For bwrap this sh stands in front of
    bwrap itself, so the limits and the cgroup hold bwrap and everything in its sandbox.
    """
    # `read` fails at end-of-file: a parent that died without releasing starts nothing.
    wait = 'read -r _ || exit 125; exec </dev/null; exec "$@"'
    return ["sh", "-c", wait, "sh", *argv]


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
    """Polls the checks until one says why the command must stop, then stops it once."""

    def __init__(self, checks: Sequence[Callable[[], str]], stop: Callable[[], None]) -> None:
        self.checks = list(checks)
        self.stop = stop
        self.stopped = ""

    async def run(self) -> None:
        if not self.checks:
            return
        while not self.stopped:
            await asyncio.sleep(WATCH_POLL_S)
            self.look()

    def look(self) -> None:
        for check in self.checks:
            if said := check():
                self.stopped = said
                self.stop()
                return


def _kill_spawned(spawn: asyncio.Future[tuple[asyncio.BaseTransport, object]]) -> None:
    """After a cancelled spawn: kill the child's group, whose gate is already closed."""
    if not spawn.cancelled() and spawn.exception() is None:
        transport = spawn.result()[0]
        pid = transport.get_pid()  # type: ignore[attr-defined]
        _signal_group(pid, signal.SIGKILL)
        transport.close()


async def _kill_when_spawned(
    spawn: asyncio.Future[tuple[asyncio.BaseTransport, object]],
    cgroup: PidsCgroup | None,
    memory: MemoryCgroup | None,
) -> None:
    """Cancelled mid-spawn: let the spawn finish (fork and exec are quick), then kill it.

    Waiting matters: a spawn left pending outlives the call, starts the command after the
    caller was told it was cancelled, and hangs an event loop that is closed meanwhile.
    A second cancellation cuts the wait short; the callback still kills the child.
    """
    try:
        try:
            await asyncio.wait([spawn])
        except asyncio.CancelledError:
            spawn.add_done_callback(_kill_spawned)
            raise
        _kill_spawned(spawn)
    finally:
        if cgroup:
            cgroup.kill_all_and_release()
        if memory:
            memory.release()


async def run_process(
    build_argv: ArgvBuilder,
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    max_output_bytes: int,
    limits: Limits | None = None,
    writable: Sequence[Path] = (),
) -> ProcessOutcome:
    """Run the argv to the end or the timeout; nothing it started outlives this call.

    With limits, `build_argv` gets True and must return an argv that waits at the gate
    (`hold_with_sh`) until the limits are on. `writable` names folders besides `cwd` whose
    disks count towards `max_growth_mb` (a private temp folder on the host).
    """
    started = time.monotonic()
    rlimits = limits.rlimits() if limits else []
    cgroup = PidsCgroup.create(limits.max_processes) if limits and limits.max_processes else None
    memory = MemoryCgroup.create(limits.memory_mb) if limits and limits.memory_mb else None
    # Before the start, so that nothing the command writes is left out of the baseline.
    growth = GrowthWatch.begin([cwd, *writable], limits.max_growth_mb if limits else None)
    gate_write = None
    stdin: int = subprocess.DEVNULL
    if rlimits or cgroup or memory:
        stdin, gate_write = os.pipe()
    argv = build_argv(gate_write is not None)
    try:
        loop = asyncio.get_running_loop()
        spawn = asyncio.ensure_future(
            loop.subprocess_exec(
                lambda: _ExitProtocol(READ_CHUNK, loop),
                *argv,
                cwd=cwd,
                env=env,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        )
        try:
            # Shielded: a cancellation mid-spawn must still find the child to kill it.
            transport, protocol = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            if gate_write is not None:
                os.close(gate_write)  # a child held at the gate then starts nothing
            await _kill_when_spawned(spawn, cgroup, memory)
            raise
        proc = asyncio.subprocess.Process(transport, protocol, loop)
    except (OSError, subprocess.SubprocessError) as exc:
        if gate_write is not None:
            os.close(gate_write)
        if cgroup:
            cgroup.release()
        if memory:
            memory.release()
        if isinstance(exc, FileNotFoundError):
            missing = f"the folder {cwd}" if not cwd.is_dir() else argv[0]
            raise CommandStartError(
                f"The command could not start: {missing} was not found."
            ) from exc
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CommandStartError(f"The command could not start: {reason.rstrip('.')}.") from exc
    finally:
        # The child has its copy; ours would keep the gate from closing.
        if stdin != subprocess.DEVNULL:
            os.close(stdin)

    if gate_write is not None:
        try:
            _apply_limits(proc.pid, rlimits, cgroup, memory)
        except OSError as exc:
            # Never release a command whose limits did not take: kill it where it waits.
            os.close(gate_write)
            _signal_group(proc.pid, signal.SIGKILL)
            if cgroup:
                cgroup.kill_all_and_release()
            if memory:
                memory.release()
            raise CommandStartError(
                f"The command's limits could not be set: {exc.strerror or exc}."
            ) from exc
        os.write(gate_write, RELEASE)
        os.close(gate_write)

    # start_new_session makes the child a session and group leader: its pid is the pgid.
    pgid = proc.pid
    budget = Budget(max_output_bytes)
    out, err = HeadTail(budget), HeadTail(budget)
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        asyncio.ensure_future(_drain(proc.stdout, out)),
        asyncio.ensure_future(_drain(proc.stderr, err)),
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
    watching = asyncio.ensure_future(watch.run())
    try:
        if not await _exited(proc, timeout_s):
            timed_out = True
            await _kill_group(proc, pgid)
        # Background children may hold the pipes open after the leader exits; they belong to
        # the command, so they get a moment and are then killed with the rest of the group.
        _, pending = await asyncio.wait(readers, timeout=PIPE_GRACE_S)
        if pending:
            await _kill_group(proc, pgid)
            await asyncio.wait(readers, timeout=PIPE_GRACE_S)
        finished = True
    finally:
        # Cancelled or failed mid-run, or leftovers that closed their pipes
        # (`cmd >/dev/null &`): nothing of the command may outlive the call.
        try:
            if not finished or _group_alive(pgid):
                await _kill_group(proc, pgid)
        finally:
            # Not skipped by a second cancellation. bwrap's init runs in a session of its
            # own, out of killpg's reach; it dies with bwrap (--die-with-parent), and its
            # PID namespace with it.
            if cgroup:
                # Catches what left the group (setsid) and could not be reached by killpg.
                cgroup.kill_all_and_release()
            watching.cancel()
            for reader in readers:
                reader.cancel()
        await asyncio.gather(*readers, watching, return_exceptions=True)

    # An OOM kill after the last look still counts: the command lost a process to it.
    stopped = watch.stopped or (memory.check() if memory else "")
    if memory:
        memory.release()

    (stdout, stderr), truncated = finish([out, err], max_output_bytes)
    return ProcessOutcome(
        exit_code=None if timed_out else proc.returncode,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
        timed_out=timed_out,
        truncated=truncated,
        duration_s=round(time.monotonic() - started, 3),
        stopped=stopped,
    )
