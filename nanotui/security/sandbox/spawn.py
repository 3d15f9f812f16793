"""Starting a command's first process: what every way of starting gives back (`Started`),
and the argv spawned by asyncio that bwrap uses (the Landlock and plain backends' commands
are forked by the fork server instead, `fork_client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nanotui.protocol.basics import UserFacingError
from nanotui.security.sandbox.process_reaper import descendants_of

READ_CHUNK = 64 * 1024


class CommandStartError(UserFacingError):
    """The command could not be started at all (no bash, a missing cwd, ...); one sentence."""


class Started(Protocol):
    """A command's first process, started in a session of its own and held at its gate."""

    @property
    def pid(self) -> int:
        """Its pid, which is its process group's id too."""

    @property
    def returncode(self) -> int | None:
        """How it ended, as asyncio says it (-N for signal N); None while it runs, or when
        it can no longer be followed (`stopped` then says why)."""

    @property
    def exited(self) -> asyncio.Event:
        """Set the moment it has exited, or can no longer be followed."""

    @property
    def stdout(self) -> asyncio.StreamReader: ...

    @property
    def stderr(self) -> asyncio.StreamReader: ...

    @property
    def stopped(self) -> str:
        """Why it ended without our learning its exit code, or ""."""

    @property
    def swept(self) -> bool:
        """Whether it said, as it ended, that nothing it started is left: then neither its
        group nor its cgroup holds anything to kill but itself, on its way out."""

    def close(self) -> None:
        """Let go of what following it took (sockets, transports)."""


Starter = Callable[[int | None], Awaitable[Started]]
"""Starts the command with the gate's read end as its stdin, or /dev/null when None."""


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol plus an event set the moment the child exits."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass
class Spawned:
    """An argv spawned by asyncio, seen as a `Started`."""

    proc: asyncio.subprocess.Process
    stopped: str = ""
    swept: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def exited(self) -> asyncio.Event:
        return self.proc._protocol.exited  # type: ignore[attr-defined,no-any-return]

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def stderr(self) -> asyncio.StreamReader:
        assert self.proc.stderr is not None
        return self.proc.stderr

    def close(self) -> None:
        # asyncio closes the transport itself once the process and its pipes are done; a
        # pipe not read to its end (an MCP server's stream cut at its bound) would leave it
        # to the garbage collector, which may find it after its event loop has closed. Not
        # before the exit is known: closing a running process's transport kills it.
        if self.proc.returncode is not None:
            self.proc._transport.close()  # type: ignore[attr-defined]


def hold_with_sh(argv: Sequence[str], gate_fd: int | None = None) -> list[str]:
    """argv preceded by a tiny shell that waits at the gate, then gives the command /dev/null.

    While it waits, the parent sets the resource limits on it (prlimit) and moves it into
    the command's cgroup, so everything the command forks inherits both. No Python runs in
    the child between fork and exec: preexec_fn would make every spawn fork the whole
    interpreter (~10 ms) and is unsafe with threads. For bwrap this sh stands in front of
    bwrap itself, so the limits and the cgroup hold bwrap and everything in its sandbox.

    With `gate_fd` the gate is that descriptor instead and stdin is left alone: a long-lived
    program (`long_lived`) is spoken to through its stdin. bash, not sh: the descriptor's
    number may pass 9, which dash cannot redirect.
    """
    # `read` fails at end-of-file: a parent that died without releasing starts nothing.
    if gate_fd is not None:
        wait = f'read -r _ <&{gate_fd} || exit 125; exec {gate_fd}<&-; exec "$@"'
        return ["bash", "-c", wait, "bash", *argv]
    wait = 'read -r _ || exit 125; exec </dev/null; exec "$@"'
    return ["sh", "-c", wait, "sh", *argv]


def _kill_spawned(spawn: asyncio.Future[tuple[asyncio.BaseTransport, object]]) -> None:
    """After a cancelled spawn: kill the child's group, still held at its gate."""
    if not spawn.cancelled() and spawn.exception() is None:
        transport = spawn.result()[0]
        pid = transport.get_pid()  # type: ignore[attr-defined]
        below = descendants_of(pid)  # a sandbox leader in a session of its own (process.py)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for leftover in below:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(leftover, signal.SIGKILL)
        transport.close()


async def _kill_when_spawned(spawn: asyncio.Future[tuple[asyncio.BaseTransport, object]]) -> None:
    """Cancelled mid-spawn: let the spawn finish (fork and exec are quick), then kill it.

    Waiting matters: a spawn left pending outlives the call, starts the command after the
    caller was told it was cancelled, and hangs an event loop that is closed meanwhile.
    A second cancellation cuts the wait short; the callback still kills the child.
    """
    try:
        await asyncio.wait([spawn])
    except asyncio.CancelledError:
        spawn.add_done_callback(_kill_spawned)
        raise
    _kill_spawned(spawn)


async def spawn_argv(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    stdin: int | None,
    pass_fds: Sequence[int] = (),
) -> Spawned:
    """Spawn the argv in a session of its own, stdin the gate (or /dev/null, or a pipe with
    subprocess.PIPE), inheriting `pass_fds`."""
    loop = asyncio.get_running_loop()
    try:
        spawn = asyncio.ensure_future(
            loop.subprocess_exec(
                lambda: _ExitProtocol(READ_CHUNK, loop),
                *argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
            )
        )
        try:
            # Shielded: a cancellation mid-spawn must still find the child to kill it.
            transport, protocol = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            await _kill_when_spawned(spawn)
            raise
    except (OSError, subprocess.SubprocessError) as exc:
        if isinstance(exc, FileNotFoundError):
            missing = f"the folder {cwd}" if not cwd.is_dir() else argv[0]
            raise CommandStartError(
                f"The command could not start: {missing} was not found."
            ) from exc
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CommandStartError(f"The command could not start: {reason.rstrip('.')}.") from exc
    return Spawned(asyncio.subprocess.Process(transport, protocol, loop))
