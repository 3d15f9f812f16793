"""The fork server: one warm Python per nanotui process that starts the Landlock and plain
backends' commands, so that no interpreter starts for each one.

Starting `python landlock_exec.py` for every command cost 23 to 35 ms, nearly all of it an
interpreter starting and loading ctypes. Now nanotui starts that interpreter once
(`landlock_exec.py --fork-server FD`, see `fork_client.py`) and hands it each command. A
copy of the server, forked ahead and waiting (the spare), takes it and does what the
one-shot launcher did: lead a session of its own, wait at the gate while nanotui sets the
limits and the cgroup on it, stay as the command's reaping parent (`process_reaper`), put
Landlock and seccomp on the command alone, and start it. The server then forks the next
spare while the command runs: forking and the copy's first steps (1.5 to 2 ms) are not in
the command's way.

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
it could not start, then "D status" once its command and all it started are gone (how the
copy is about to end, as a wait status); the server answers "X status" once it has reaped
the copy. The copy's lines always come first: it writes them before it can exit. nanotui
takes the first of D and X: D spares it the copy's exit, which tears down a copy of the
server's memory (0.3 to 0.6 ms); X is there when the copy was killed before it could say
D. The server passes the four descriptors on to the spare over a socket of the spare's own.

Nothing outlives what started it. Each copy is a child subreaper over its command, and the
server is one over the copies: a copy killed before it could sweep leaves its orphans to the
server, which kills them at once. When nanotui goes, however it died, the control socket
reads end-of-file and the server kills everything below it; when the server dies, each copy
hears it (PDEATHSIG) and sweeps its own command, and the spare reads end-of-file on its
socket and exits.

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
PRACTICE_REQUEST = json.dumps(
    {
        "argv": [*["--read", "/practice/folder"] * 32, "--gate", "--", "bash", "-c", "true"],
        "cwd": "/",
        "env": {f"PRACTICE_{n}": "/usr/local/bin:/usr/bin:/bin" for n in range(32)},
    }
)
"""A request like nanotui's, as long as a Landlock command's, for the waiting copy's
warm-up (`_warm_up`)."""
Run = Callable[[list[str], int, Callable[[int], None]], int]
"""`landlock_exec.main`: the launcher's argv, the server's pid and what to call once the
command and all it started are gone, to its exit code."""


def _say(fd: int, line: str) -> None:
    """One line to nanotui on a command's socket; a closed socket means it stopped asking."""
    try:
        os.write(fd, f"{line}\n".encode())
    except OSError:
        return


def serve(control_fd: int, run: Run, reaper: ModuleType, practise: Callable[[], None]) -> int:
    """Hand each request on the control socket to a copy until it closes, then kill all
    below; `reaper` is `process_reaper`, loaded by path, and `practise` what each waiting
    copy does once on nothing to be quicker with its command (`_warm_up`)."""
    reaper._prctl(reaper.PR_SET_CHILD_SUBREAPER, 1)
    server = Server(socket.socket(fileno=control_fd), run, reaper, practise)
    # SIGCHLD writes to the pipe, so one poll waits for requests and for exits alike.
    signal.set_wakeup_fd(server.wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    for signum in reaper.STOP_SIGNALS:
        signal.signal(signum, reaper.stop_once)  # `reaper.Stop` says everything below goes
    # What is loaded now stays untouched by the collector, so the copies share its pages
    # with the server instead of copying them on the collector's first pass.
    gc.freeze()
    poller = select.poll()
    poller.register(server.control.fileno(), select.POLLIN)
    poller.register(server.wake_read, select.POLLIN)
    try:
        server.spare = server.fork_spare()
        while True:
            for fd, _ in poller.poll():
                if fd == server.wake_read:
                    _drain(server.wake_read)
                    server.collect()
                elif not server.take_request():
                    return 0
    except reaper.Stop:
        return 0
    finally:
        # First and inline, as in `run_reaped`: no later stop cuts the sweep short.
        reaper._stopping.append(True)
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


class Spare:
    """A copy forked ahead of its command, waiting on a socket of its own for one request's
    descriptors: forking (0.5 to 1 ms for this process) and the copy's first steps are done
    before nanotui asks, not while it waits."""

    def __init__(self, pid: int, socket_: socket.socket) -> None:
        self.pid = pid
        self.socket = socket_


class Server:
    """The server's state: the control socket, the wake-up pipe, the copies and the spare."""

    def __init__(
        self,
        control: socket.socket,
        run: Run,
        reaper: ModuleType,
        practise: Callable[[], None],
    ) -> None:
        self.control = control
        self.run = run
        self.reaper = reaper
        self.practise = practise
        self.wake_read, self.wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.copies: dict[int, int] = {}
        """Each live copy's pid, to its command's socket."""
        self.spare: Spare | None = None

    def fork_spare(self, held: list[int] | None = None) -> Spare | None:
        """Fork the next copy, which prepares and then waits for its command; None when the
        fork failed (the next request tries again). `held`: descriptors the server holds
        for a request in hand, which the copy must not inherit."""
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError:
            return None
        server = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return None
        if pid == 0:
            # Not the other copies' answer sockets either: held here, their end would not
            # close when their own copy dies, and nanotui would wait on them.
            private = [self.control.fileno(), self.wake_read, self.wake_write, ours.fileno()]
            private += [*self.copies.values(), *(held or [])]
            _become_copy(theirs, private, self, server)
        theirs.close()
        return Spare(pid, ours)

    def take_request(self) -> bool:
        """Hand the next request to the spare; False once nanotui has closed the socket."""
        space = socket.CMSG_SPACE(DESCRIPTORS * array.array("i").itemsize)
        try:
            data, ancillary, _, _ = self.control.recvmsg(1, space, socket.MSG_CMSG_CLOEXEC)
        except OSError:
            return False  # the socket broke: nanotui is gone
        fds = _descriptors(ancillary)
        if not data or len(fds) != DESCRIPTORS:
            for fd in fds:
                os.close(fd)
            return bool(data)
        copy = self._hand_over(fds)
        for fd in fds[:3]:
            os.close(fd)  # the copy has its own; ours would keep the pipes from closing
        if copy:
            self.copies[copy] = fds[3]
        else:
            _say(fds[3], "E the fork server could not fork")
            os.close(fds[3])
        # The next one now, while this command runs: it too must not hold this one's socket.
        if self.spare is None:
            self.spare = self.fork_spare()
        return True

    def _hand_over(self, fds: list[int]) -> int | None:
        """Send the descriptors to the spare (one forked now if there is none, or it died);
        the copy's pid, or None when no copy could be forked."""
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        for _ in range(2):
            spare, self.spare = self.spare or self.fork_spare(fds), None
            if spare is None:
                return None
            try:
                spare.socket.sendmsg([b"R"], rights)
                return spare.pid
            except OSError:
                continue  # it died (killed from outside): it is reaped as an orphan
            finally:
                spare.socket.close()
        return None

    def collect(self) -> None:
        """Reap what exited, tell nanotui how each copy ended, kill whatever a copy left
        behind."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            answers = self.copies.pop(pid, None)
            if answers is not None:
                _say(answers, f"X {status}")
                os.close(answers)
            if self.spare is not None and pid == self.spare.pid:
                self.spare.socket.close()
                self.spare = None
        # Any child that is not a copy was orphaned by a copy that died without sweeping: stop
        # all of it first, so that nothing forks past the kill. Killed ones are reaped on the
        # SIGCHLD they send, and whatever they left is found then.
        ours = set(self.copies)
        if self.spare is not None:
            ours.add(self.spare.pid)
        found = []
        for orphan in self.reaper.children_of(os.getpid()):
            if orphan not in ours:
                found += [orphan, *self.reaper.descendants_of(orphan)]
        for signum in (signal.SIGSTOP, signal.SIGKILL):
            for pid in found:
                self.reaper._signal(pid, signum)


def _descriptors(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    """The descriptors passed in a message's ancillary data."""
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return list(fds)


def _become_copy(waiting: socket.socket, private: list[int], parent: Server, server: int) -> None:
    """In the forked copy of `parent` (pid `server`): prepare, wait for the command's
    descriptors on `waiting`, read its request, run it. Exits."""
    code = 126
    reaper = parent.reaper
    try:
        gc.disable()  # a copy lives as long as its command and makes no garbage worth it
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, *reaper.STOP_SIGNALS):
            signal.signal(signum, signal.SIG_DFL)
        for fd in private:
            os.close(fd)
        # Killed with the server even when stopped (end-of-file needs it running).
        reaper._prctl(reaper.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server:
            return
        # Its own session and group: nanotui signals the group by this pid.
        os.setsid()
        _warm_up(parent.practise)
        space = socket.CMSG_SPACE(DESCRIPTORS * array.array("i").itemsize)
        # The server gone (its end closed) reads as no data: nothing to run.
        data, ancillary, _, _ = waiting.recvmsg(1, space, socket.MSG_CMSG_CLOEXEC)
        waiting.close()
        fds = _descriptors(ancillary)
        if not data or len(fds) != DESCRIPTORS:
            return
        gate, stdout, stderr, answers = fds
        for fd, target in ((gate, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        request = json.loads(_read_request(answers))
        try:
            os.chdir(request["cwd"])
        except OSError as exc:
            _say(answers, f"E {exc.strerror}")
            return
        os.environ.clear()
        os.environ.update(request["env"])  # the command's environment, exec passes it on
        _say(answers, f"S {os.getpid()}")
        # `answers` is kept for "D" (close-on-exec: the command never holds it).
        code = parent.run(request["argv"], server, lambda status: _swept(answers, status))
    except BaseException:
        code = 126  # nanotui went away mid-request, or the request was not one
    finally:
        os._exit(code)


def _swept(answers: int, status: int) -> None:
    """The command and all it started are gone: end its output (the copy's own copies of its
    pipes would hold them open until its exit) and say how the copy will end."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)
    except OSError:
        return  # nanotui waits for the server's "X" instead
    _say(answers, f"D {status}")


def _warm_up(practise: Callable[[], None]) -> None:
    """Do once, on nothing, what the copy will do with its request (take its descriptors,
    parse its JSON, set its environment, and `practise`: make a ruleset, start the thread
    that restricts): the first time touches pages the copy shares with the server, and each
    page touched is copied then, about 3 us a page. Done while the copy waits, that is 0.3
    to 0.5 ms out of the command's way."""
    _descriptors([(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0]).tobytes())])
    practice = json.loads(PRACTICE_REQUEST)
    os.environ.update(practice["env"])
    os.environ.clear()
    try:  # noqa: SIM105 (no contextlib in the launcher's siblings)
        practise()
    except Exception:  # only practice (no thread to be had, say): the command's start tells
        pass


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
