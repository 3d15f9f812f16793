"""The fork server: one warm Python per nanotui process that starts the Landlock and plain
backends' commands, so that no interpreter starts for each one.

Starting `python landlock_exec.py` for every command cost 23 to 35 ms, nearly all of it an
interpreter starting and loading ctypes. Now nanotui starts that interpreter once
(`landlock_exec.py --fork-server FD`, see `fork_client.py`) and hands it each command. It
forks, which takes well under a millisecond for a small single-threaded Python, and the copy
does what the one-shot launcher did: lead a session of its own, wait at the gate while
nanotui sets the limits and the cgroup on it, stay as the command's reaping parent
(`process_reaper`), put Landlock and seccomp on the command alone, and start it.

Why this and not the other ways to skip the interpreter:
- `preexec_fn` in nanotui itself forks the whole agent (~10 ms for a big process) and runs
  Python between fork and exec in a multi-threaded program: a lock another thread held at
  the fork (the allocator's, logging's, the import lock) is never released in the child,
  which then hangs. And the reaper must be a process of its own, which it cannot give.
- a small C launcher would need a compiler wherever nanotui is installed.
The fork server has one thread, holds no lock while it forks, and serves nanotui alone.

Protocol. The control socket (SOCK_SEQPACKET, so each message keeps its descriptors) carries
one message per command: one byte, and four descriptors: the gate (the command's stdin until
nanotui releases it), stdout, stderr, and a stream socket of the command's own. On that
socket nanotui sends the request (an 8-byte length, then JSON: the launcher's argv, cwd,
env); the copy reads it and answers "S pid" once it leads its own session, or "E why" when
it could not start; the server answers "X status" once it has reaped the copy. The copy's
lines always come first: it writes them before it can exit.

Nothing outlives what started it. Each copy is a child subreaper over its command, and the
server is one over the copies: a copy killed before it could sweep leaves its orphans to the
server, which kills them at once. When nanotui goes, however it died, the control socket
reads end-of-file and the server kills everything below it; when the server dies, each copy
hears it (PDEATHSIG) and sweeps its own command.

Standard library only, loaded by path like the launcher's other siblings.
"""

from __future__ import annotations

import array
import gc
import json
import os
import select
import signal
import socket
import struct
from collections.abc import Callable
from types import ModuleType

DESCRIPTORS = 4
"""The gate, stdout, stderr, and the command's socket, in that order."""
LENGTH = struct.Struct("!Q")
"""The request's length, before its JSON."""
Run = Callable[[list[str], int], int]
"""`landlock_exec.main`: the launcher's argv and the server's pid, to its exit code."""


class Stop(Exception):
    """A signal told the server to stop: everything below it is to be killed."""


def _stop(signum: int, frame: object) -> None:
    raise Stop


def _say(fd: int, line: str) -> None:
    """One line to nanotui on a command's socket; a closed socket means it stopped asking."""
    try:
        os.write(fd, f"{line}\n".encode())
    except OSError:
        return


def serve(control_fd: int, run: Run, reaper: ModuleType) -> int:
    """Fork a copy for each request on the control socket until it closes, then kill all
    below; `reaper` is `process_reaper`, loaded by path."""
    reaper._prctl(reaper.PR_SET_CHILD_SUBREAPER, 1)
    control = socket.socket(fileno=control_fd)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    # SIGCHLD writes to the pipe, so one poll waits for requests and for exits alike.
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    for signum in reaper.STOP_SIGNALS:
        signal.signal(signum, _stop)
    copies: dict[int, int] = {}
    """Each live copy's pid, to its command's socket."""
    # What is loaded now stays untouched by the collector, so the copies share its pages
    # with the server instead of copying them on the collector's first pass.
    gc.freeze()
    poller = select.poll()
    poller.register(control.fileno(), select.POLLIN)
    poller.register(wake_read, select.POLLIN)
    try:
        while True:
            for fd, _ in poller.poll():
                if fd == wake_read:
                    _drain(wake_read)
                    _collect(copies, reaper)
                elif not _take_request(control, copies, run, [wake_read, wake_write], reaper):
                    return 0
    except Stop:
        return 0
    finally:
        for signum in reaper.STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        reaper.kill_descendants()


def _drain(fd: int) -> None:
    """Empty the wake-up pipe (the signals' bytes say nothing we need)."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        return


def _take_request(
    control: socket.socket,
    copies: dict[int, int],
    run: Run,
    private: list[int],
    reaper: ModuleType,
) -> bool:
    """Fork a copy for the next request; False once nanotui has closed the socket."""
    space = socket.CMSG_SPACE(DESCRIPTORS * array.array("i").itemsize)
    try:
        data, ancillary, _, _ = control.recvmsg(1, space, socket.MSG_CMSG_CLOEXEC)
    except OSError:
        return False  # the socket broke: nanotui is gone
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data or len(fds) != DESCRIPTORS:
        for fd in fds:
            os.close(fd)
        return bool(data)
    server = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        _say(fds[3], f"E the fork server could not fork ({exc.strerror})")
        pid = -1
    if pid == 0:
        # Not the other copies' answer sockets either: held here, their end would not close
        # when their own copy dies, and nanotui would wait on them.
        _become_copy(list(fds), [control.fileno(), *private, *copies.values()], run, server, reaper)
    for fd in fds[:3] if pid > 0 else fds:
        os.close(fd)
    if pid > 0:
        copies[pid] = fds[3]
    return True


def _become_copy(
    fds: list[int], private: list[int], run: Run, server: int, reaper: ModuleType
) -> None:
    """In the forked copy: take the command's descriptors, read its request, run it. Exits."""
    code = 126
    try:
        gc.disable()  # a copy lives as long as its command and makes no garbage worth it
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, *reaper.STOP_SIGNALS):
            signal.signal(signum, signal.SIG_DFL)
        for fd in private:
            os.close(fd)
        gate, stdout, stderr, answers = fds
        for fd, target in ((gate, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        # Its own session and group: nanotui signals the group by this pid.
        os.setsid()
        request = json.loads(_read_request(answers))
        try:
            os.chdir(request["cwd"])
        except OSError as exc:
            _say(answers, f"E {exc.strerror}")
            return
        os.environ.clear()
        os.environ.update(request["env"])  # the command's environment, exec passes it on
        _say(answers, f"S {os.getpid()}")
        os.close(answers)
        code = run(request["argv"], server)
    except BaseException:
        code = 126  # nanotui went away mid-request, or the request was not one
    finally:
        os._exit(code)


def _read_request(fd: int) -> bytes:
    """The request's JSON, read in full from the command's socket."""
    data = bytearray()
    wanted = LENGTH.size
    while len(data) < wanted:
        chunk = os.read(fd, wanted - len(data))
        if not chunk:
            raise EOFError("nanotui closed the command's socket")
        data += chunk
        if len(data) == LENGTH.size and wanted == LENGTH.size:
            wanted += LENGTH.unpack(data)[0]
    return bytes(data[LENGTH.size :])


def _collect(copies: dict[int, int], reaper: ModuleType) -> None:
    """Reap what exited, tell nanotui how each copy ended, kill whatever a copy left behind."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        answers = copies.pop(pid, None)
        if answers is not None:
            _say(answers, f"X {status}")
            os.close(answers)
    # Any child that is not a copy was orphaned by a copy that died without sweeping: stop
    # all of it first, so that nothing forks past the kill. Killed ones are reaped on the
    # SIGCHLD they send, and whatever they left is found then.
    found = []
    for orphan in reaper.children_of(os.getpid()):
        if orphan not in copies:
            found += [orphan, *reaper.descendants_of(orphan)]
    for signum in (signal.SIGSTOP, signal.SIGKILL):
        for pid in found:
            reaper._signal(pid, signum)
