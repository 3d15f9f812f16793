"""nanotui's side of the fork server (`fork_server.py`): started once, handed each command.

One server per nanotui process, shared by every runner and event loop, started on the first
command (that one pays for an interpreter starting, 25 to 50 ms; the rest pay a fork). If it has
died, the next command starts a new one; a command it was starting when it died fails with a
sentence saying so, and one it was running ends as stopped. Everything a command needs
travels with it (its argv for `landlock_exec.main`, cwd, environment, descriptors), so the
server holds nothing of nanotui's: it starts with an empty environment and in `/`.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from nanotui.security.sandbox import fork_server, landlock_exec
from nanotui.security.sandbox.process import Limits, ProcessOutcome, run_started
from nanotui.security.sandbox.spawn import READ_CHUNK, CommandStartError, Started

SERVER_GONE = "nanotui's fork server stopped"
UNANSWERED_S = 5.0
"""A server that has not started a command in this long is stuck: the next one starts anew."""


class ForkServer:
    """The running server, or the means to start one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # runners on other threads' event loops share it
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def send(self, fds: list[int]) -> None:
        """Hand the server one command's descriptors, starting it first if it is not running."""
        with self._lock:
            for _ in range(2):  # once more after finding it dead
                if not self._running():
                    self._start()
                assert self._control is not None
                rights = array.array("i", fds)
                with contextlib.suppress(OSError):
                    self._control.sendmsg([b"R"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
                    return
                self._let_go()
        raise CommandStartError(
            f"The command could not start: {SERVER_GONE} and could not be started again."
        )

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs (for tests)."""
        return self._process.pid if self._process and self._running() else None

    def stop(self) -> None:
        """Close the control socket: the server kills what runs below it and exits."""
        with self._lock:
            process = self._process
            self._let_go()
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=3)

    def abandon(self) -> None:
        """Kill the server and what runs below it (it stopped answering); the next command
        starts a new one."""
        with self._lock:
            process = self._process
            self._let_go()
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()  # SIGKILL: a stopped process takes it too
            # Not waited for here, on the event loop: subprocess collects it later.

    async def settle(self) -> None:
        """After a request was dropped: give a dying server a moment to be seen gone, so
        that the next request starts a new one."""
        for _ in range(20):
            if not self._running():
                return
            await asyncio.sleep(0.01)

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self) -> None:
        self._let_go()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                landlock_exec.launcher("--fork-server", str(theirs.fileno())),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # no Ctrl-C from the terminal, no job control
                env={},
                cwd="/",
            )
        except OSError as exc:
            ours.close()
            raise CommandStartError(
                f"The command could not start: nanotui's fork server did not ({exc.strerror})."
            ) from exc
        finally:
            theirs.close()
        self._control = ours

    def _let_go(self) -> None:
        if self._control is not None:
            self._control.close()
        self._control = None
        if self._process is not None:
            self._process.poll()  # collects it if it is already gone
        self._process = None

    def _forget_in_child(self) -> None:
        """In a process forked from nanotui: the server is the parent's. Our copy of its
        socket is closed, or the parent's death would not read as end-of-file there; a
        command run here starts a server of this process's own."""
        self._lock = threading.Lock()
        if self._control is not None:
            self._control.close()
        self._control = None
        self._process = None


SERVER = ForkServer()
atexit.register(SERVER.stop)
os.register_at_fork(after_in_child=SERVER._forget_in_child)


class _Answers(asyncio.Protocol):
    """Reads the command's socket: "S pid" or "E why" and then "D status" from the copy,
    "X status" from the server, or the socket closing when the server died."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.started: asyncio.Future[int | str] = loop.create_future()
        """The copy's pid, or why it did not start ("" when it just went)."""
        self.exited = asyncio.Event()
        self.status: int | None = None
        self.swept = False
        """Whether the copy said its command and all it started were gone ("D")."""
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            kind, _, rest = line.decode("utf-8", errors="replace").partition(" ")
            if kind == "S":
                self._start_with(int(rest))
            elif kind == "E":
                self._start_with(rest)
            elif kind in ("D", "X"):
                if not _an_end(int(rest)):
                    continue  # not how a process ends: the copy's exit (X, or the socket) is
                self._start_with("")
                if self.status is None:  # the first says it; X after D is the copy's exit
                    self.status = int(rest)
                    self.swept = kind == "D"
                self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._start_with("")
        self.exited.set()

    def _start_with(self, answer: int | str) -> None:
        if not self.started.done():
            self.started.set_result(answer)


def _an_end(status: int) -> bool:
    return os.WIFEXITED(status) or os.WIFSIGNALED(status)


class ForkedCommand:
    """A command the fork server started (a `Started`): its copy's pid, output and end."""

    def __init__(self, answers: _Answers, transports: list[asyncio.BaseTransport]) -> None:
        self.answers = answers
        self.transports = transports
        self.pid = 0
        self.stdout = asyncio.StreamReader(limit=READ_CHUNK)
        self.stderr = asyncio.StreamReader(limit=READ_CHUNK)

    @property
    def returncode(self) -> int | None:
        status = self.answers.status
        return None if status is None else os.waitstatus_to_exitcode(status)

    @property
    def exited(self) -> asyncio.Event:
        return self.answers.exited

    @property
    def stopped(self) -> str:
        lost = self.answers.exited.is_set() and self.answers.status is None
        return f"{SERVER_GONE} while it ran" if lost else ""

    @property
    def swept(self) -> bool:
        return self.answers.swept

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


async def run_forked(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    max_output_bytes: int,
    limits: Limits | None = None,
    writable: Sequence[Path] = (),
) -> ProcessOutcome:
    """Run `landlock_exec.main(argv)` in a copy forked by the fork server (`run_started`);
    argv must ask for the gate (--gate)."""

    async def start(gate: int | None) -> Started:
        assert gate is not None, "a forked command is always held at its gate"
        asked = time.monotonic()
        try:
            return await start_forked(argv, cwd=cwd, env=env, gate=gate)
        except asyncio.CancelledError:
            # Given up (at the command's timeout, or by the user). A start takes
            # milliseconds: a server that has not answered for this long is stopped or
            # stuck, and the next command needs one that answers.
            if time.monotonic() - asked >= UNANSWERED_S:
                SERVER.abandon()
            raise

    return await run_started(
        start,
        cwd=cwd,
        timeout_s=timeout_s,
        max_output_bytes=max_output_bytes,
        limits=limits,
        writable=writable,
        # Until released the copy starts nothing, so a cancelled start is undone by closing.
        hold=True,
    )


async def start_forked(
    argv: list[str], *, cwd: Path, env: dict[str, str], gate: int
) -> ForkedCommand:
    """Have the fork server fork a copy for `argv` in `cwd` with `env`, its stdin the gate's
    read end (the caller closes ours), and return once it leads its own session."""
    body = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode()
    request = fork_server.LENGTH.pack(len(body)) + body
    answer: int | str = ""
    for _ in range(2):
        command, answer = await _start_once(request, gate)
        if isinstance(answer, int):
            return command
        if answer:
            break
        # The server (or the copy) went before the copy took the command: nothing started,
        # since a copy orphaned that early never passes its parent check. Once more, with a
        # server started anew if this one is gone.
        await SERVER.settle()
    if not cwd.is_dir():
        raise CommandStartError(f"The command could not start: the folder {cwd} was not found.")
    why = answer or f"{SERVER_GONE}; the next command starts it again"
    raise CommandStartError(f"The command could not start: {why.rstrip('.')}.")


async def _start_once(request: bytes, gate: int) -> tuple[ForkedCommand, int | str]:
    """Hand the server one request; the command and the copy's answer (`_Answers.started`)."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pipes = [os.fdopen(out_read, "rb", buffering=0), os.fdopen(err_read, "rb", buffering=0)]
    command = ForkedCommand(_Answers(loop), [])
    ours.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        # Into the socket's buffer before the server forks: the copy finds it waiting.
        request = request[ours.send(request) :]
    try:
        try:
            SERVER.send([gate, out_write, err_write, theirs.fileno()])
        finally:
            # The server has its copies; ours would keep the pipes from ever closing.
            for fd in (out_write, err_write):
                os.close(fd)
            theirs.close()
        for pipe, reader in zip(pipes, (command.stdout, command.stderr), strict=True):
            transport, _ = await loop.connect_read_pipe(
                lambda reader=reader: asyncio.StreamReaderProtocol(reader), pipe
            )
            command.transports.append(transport)
        answers, _ = await loop.create_connection(lambda: command.answers, sock=ours)
        command.transports.append(answers)
        answers.write(request)  # what did not fit in the buffer, if anything
        answer = await command.answers.started
    except BaseException:
        # With our end closed the copy, at its gate or reading the request, starts nothing.
        _close_all(command, pipes, ours)
        raise
    if isinstance(answer, int):
        command.pid = answer
    else:
        _close_all(command, pipes, ours)
    return command, answer


def _close_all(command: ForkedCommand, pipes: list[BinaryIO], ours: socket.socket) -> None:
    command.close()
    for pipe in pipes:
        pipe.close()  # a no-op for those a transport has closed
    ours.close()
