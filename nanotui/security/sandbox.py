"""Running shell commands: the result shape, the runner protocol, and the backends.

For now only the plain backend lives here: `bash -c` in its own session and process group,
with a scrubbed environment, a time limit and an output cap, and the whole group killed when
the command times out or the caller is cancelled. The bubblewrap and landlock backends (no
network, read-only root, process and memory limits) will join it behind the same protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from nanotui.security.secrets import scrubbed_environment

READ_CHUNK = 64 * 1024
KILL_GRACE_S = 0.5
"""How long the group gets between SIGTERM and SIGKILL."""
PIPE_GRACE_S = 0.5
"""After bash exits, how long leftover background processes may keep its pipes open."""


class CommandResult(BaseModel):
    """What a command did. exit_code is None when it never finished on its own (killed)."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    """Output passed max_output_bytes; the rest was read and discarded."""
    backend: str
    duration_s: float


class CommandStartError(Exception):
    """The command could not be started at all (no bash, a missing cwd, ...); one sentence."""


@runtime_checkable
class CommandRunner(Protocol):
    """Runs one shell command line; every backend offers this."""

    backend: str

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        timeout_s: float,
        max_output_bytes: int,
        env: dict[str, str] | None = None,
    ) -> CommandResult: ...


class _OutputBudget:
    """One cap shared by stdout and stderr: at most `limit` bytes are kept in total."""

    def __init__(self, limit: int) -> None:
        self.remaining = max(0, limit)
        self.truncated = False

    def take(self, chunk: bytes) -> bytes:
        if len(chunk) <= self.remaining:
            self.remaining -= len(chunk)
            return chunk
        self.truncated = True
        kept = chunk[: self.remaining]
        self.remaining = 0
        return kept


async def _drain(stream: asyncio.StreamReader, into: bytearray, budget: _OutputBudget) -> None:
    # Keep reading after the cap is reached: a child blocked on a full pipe would never end.
    while chunk := await stream.read(READ_CHUNK):
        into += budget.take(chunk)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def _exited(proc: asyncio.subprocess.Process, timeout_s: float) -> bool:
    """Wait until bash itself has exited; False if it is still running after timeout_s."""
    # Not proc.wait(): on Python 3.11 that also waits for the pipes to close, which a
    # background child can hold open for as long as it likes.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = 0.002
    while proc.returncode is None:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class PlainRunner:
    """No isolation beyond a process group and a scrubbed environment: the user's choice."""

    backend = "plain"

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        timeout_s: float,
        max_output_bytes: int,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """Run `bash -c command`; `env` adds variables on top of the scrubbed environment."""
        started = time.monotonic()
        environment = scrubbed_environment()
        if env:
            environment.update(env)
        try:
            proc = await asyncio.create_subprocess_exec(
                "bash",
                "-c",
                command,
                cwd=cwd,
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            missing = "bash" if exc.filename in (None, "bash") else f"the folder {cwd}"
            raise CommandStartError(
                f"The command could not start: {missing} was not found."
            ) from exc
        except OSError as exc:
            raise CommandStartError(f"The command could not start: {exc.strerror}.") from exc

        # start_new_session makes the child a session and group leader: its pid is the pgid.
        pgid = proc.pid
        budget = _OutputBudget(max_output_bytes)
        out, err = bytearray(), bytearray()
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            asyncio.ensure_future(_drain(proc.stdout, out, budget)),
            asyncio.ensure_future(_drain(proc.stderr, err, budget)),
        ]
        timed_out = False
        finished = False
        try:
            if not await _exited(proc, timeout_s):
                timed_out = True
                await self._kill_group(proc, pgid)
            # Background children may hold the pipes open after bash exits; they belong to the
            # command, so they get a moment and are then killed with the rest of the group.
            _, pending = await asyncio.wait(readers, timeout=PIPE_GRACE_S)
            if pending:
                await self._kill_group(proc, pgid)
                await asyncio.wait(readers, timeout=PIPE_GRACE_S)
            finished = True
        finally:
            # Cancelled or failed mid-run, or leftovers that closed their pipes
            # (`cmd >/dev/null &`): nothing of the command may outlive the call.
            if not finished or _group_alive(pgid):
                await self._kill_group(proc, pgid)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

        return CommandResult(
            exit_code=None if timed_out else proc.returncode,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            timed_out=timed_out,
            truncated=budget.truncated,
            backend=self.backend,
            duration_s=round(time.monotonic() - started, 3),
        )

    @staticmethod
    async def _kill_group(proc: asyncio.subprocess.Process, pgid: int) -> None:
        """SIGTERM the whole group, give it a moment, then SIGKILL whatever is left."""
        try:
            _signal_group(pgid, signal.SIGTERM)
            await _exited(proc, KILL_GRACE_S)
        finally:
            # Unconditional, and in a finally so a second cancellation cannot skip it: members
            # that ignored SIGTERM, or outlived bash, are still in the group.
            _signal_group(pgid, signal.SIGKILL)
