"""Run a command as a child subreaper, so that nothing it starts can slip away.

Killing a command's process group misses anything that called `setsid` (or `setpgid`): it
has left the group. Without a cgroup or a PID namespace to hold it, the one handle left is
parentage: a process marked as a child subreaper adopts every orphan among its descendants,
whatever session or group they moved to. So the launcher starts the command, marks itself
as the subreaper, waits for it, and then kills every descendant still alive (stopping them
first, so a forking one cannot outrun the sweep). It does the same on SIGTERM, SIGINT or
SIGHUP (the timeout kill reaches it through the group), and when its parent dies.

Standard library only, and only modules Python loads at start anyway (no `contextlib`): the
launcher (`landlock_exec.py`) loads it for every command.
"""

from __future__ import annotations

import _thread
import ctypes
import os
import signal
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_CHILD_SUBREAPER = 36
SWEEP_S = 2.0
"""How long the final sweep may keep killing what appears (bounded: a fork bomb is
limited by RLIMIT_NPROC or the pids cgroup, and each pass stops all it finds first)."""


class Stop(Exception):
    """A signal told us to stop: the command and all it started are to be killed."""


_loaded: list[ctypes.CDLL] = []


def _prctl(option: int, value: int) -> None:
    # The C library is loaded once: the fork server does it before forking (its first call
    # marks it a subreaper), and a fresh CDLL in each forked command cost 0.3 ms.
    if not _loaded:
        _loaded.append(ctypes.CDLL(None, use_errno=True))
    if _loaded[0].prctl(option, value, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (every thread's list)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
        except OSError:
            continue
    return found


def descendants_of(pid: int) -> list[int]:
    """Every process below `pid`, parents before children."""
    found: list[int] = []
    queue = children_of(pid)
    while queue:
        child = queue.pop(0)
        if child not in found:
            found.append(child)
            queue += children_of(child)
    return found


def _signal(pid: int, signum: int) -> None:
    # Not contextlib.suppress: importing contextlib adds milliseconds to every command.
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        return


def _reap_all() -> None:
    """Collect every child that has exited, so that none lingers as a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants() -> bool:
    """Stop then kill everything below this process, until nothing is left or time is up;
    whether nothing is left."""
    deadline = time.monotonic() + SWEEP_S
    me = os.getpid()
    found = descendants_of(me)
    while found and time.monotonic() < deadline:
        for pid in found:
            _signal(pid, signal.SIGSTOP)
        for pid in found:
            _signal(pid, signal.SIGKILL)
        time.sleep(0.001)
        _reap_all()
        found = descendants_of(me)
    _reap_all()
    return not found and children_listed(me)


def children_listed(pid: int) -> bool:
    """Whether the kernel lists `pid`'s children at all (it may be built without): if not,
    finding none below it proves nothing."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            listing.read()
    except OSError:
        return False
    return True


_stopping: list[bool] = []
"""Not empty once a stop was asked for or the sweep began: later stops change nothing."""


def stop_once(signum: int, frame: object) -> None:
    """The stop signals' handler: raise `Stop` the first time only.

    A parent's death signal comes each time we are handed on: from a killed nanotui's
    exiting thread to its next live one, and at last to init or a subreaper. So a
    many-threaded nanotui sends several (those that come while one waits merge into it).
    Raised again as the sweep starts, `Stop` would abort the sweep and leave the command
    running without its reaper.
    """
    if _stopping:
        return
    _stopping.append(True)
    raise Stop


def _end_like(status: int) -> int:
    """End as the command ended: the same exit code, or killed by the same signal, so that
    the caller sees what it would have seen without us in between."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if signum not in (signal.SIGKILL, signal.SIGSTOP):  # their action is fixed
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum  # a signal that does not end a process: exit as a shell would
    return os.waitstatus_to_exitcode(status)


class SandboxNotApplied(Exception):
    """`prepare` failed: the command was not started."""


def _start(command: list[str], prepare: Callable[[], None] | None) -> int:
    """Start the command as our child with default signal handling, as if exec'd directly.

    posix_spawn's vfork copies no memory and runs no Python in the child: a fork of this
    process and the Python run in it before exec cost about a millisecond more. With
    `prepare`, it runs on a thread that spawns the command and ends (`_restricted_start`).
    """
    if prepare is None:
        return os.posix_spawnp(command[0], command, os.environ, setsigdef=STOP_SIGNALS)
    return _restricted_start(command, prepare)


class _Starter:
    """A thread that waits to run one start: `prepare`, then spawning the command."""

    def __init__(self) -> None:
        self.job: tuple[list[str], Callable[[], None], set[signal.Signals]] | None = None
        """The command, `prepare` and the signal mask to give the command, once handed."""
        self.outcome: list[int | BaseException] = []
        self.go = _thread.allocate_lock()
        self.go.acquire()
        self.done = _thread.allocate_lock()
        self.done.acquire()
        # Started with the stop signals blocked, which it keeps: they go to the main thread.
        before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            _thread.start_new_thread(self._wait_and_start, ())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)

    def _wait_and_start(self) -> None:
        self.go.acquire()
        if self.job is None:
            return  # let go unused (`let_starter_go`)
        try:
            command, prepare, mask = self.job
            try:
                prepare()
            except OSError as exc:
                raise SandboxNotApplied(exc) from exc
            self.outcome.append(
                os.posix_spawnp(
                    command[0], command, os.environ, setsigdef=STOP_SIGNALS, setsigmask=mask
                )
            )
        except BaseException as exc:
            self.outcome.append(exc)
        finally:
            self.done.release()


_waiting: list[_Starter] = []
"""A starter thread started ahead (`practise`), in the fork server's waiting copy."""


def let_starter_go() -> None:
    """No command here will be restricted (plain): the thread started ahead ends now. Left
    waiting, it would count as one of the command's tasks in its pids cgroup."""
    while _waiting:
        _waiting.pop().go.release()


def _restricted_start(command: list[str], prepare: Callable[[], None]) -> int:
    """Run `prepare` on a thread of its own and spawn the command from that thread.

    Landlock (`landlock_restrict_self`) and seccomp (without TSYNC) restrict the calling
    thread alone, and a child takes both from the thread that starts it: so the command is
    restricted and this process, its reaper, is not (the command cannot signal it across
    Landlock's scope). The thread ends once the command is started; one started ahead, while
    the copy waited, saves starting one now (0.1 to 0.2 ms). The stop signals wait meanwhile:
    a stop that came mid-start would sweep before the command exists.
    """
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        try:
            starter = _waiting.pop() if _waiting else _Starter()
        except RuntimeError as exc:  # no thread to be had (RLIMIT_NPROC, say)
            raise SandboxNotApplied(f"no thread could be started to restrict it ({exc})") from exc
        starter.job = (command, prepare, before)
        starter.go.release()
        starter.done.acquire()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    if isinstance(starter.outcome[0], BaseException):
        raise starter.outcome[0]
    return starter.outcome[0]


def practise() -> None:
    """Start and end a starter thread without starting anything, look for what is below us,
    as a command's start and end do (see `landlock_exec.practise`), then start the thread
    for the command ahead."""

    def refuse() -> None:
        raise OSError("practice")

    try:  # noqa: SIM105 (not contextlib, see `_signal`)
        _restricted_start(["true"], refuse)
    except SandboxNotApplied:
        pass
    descendants_of(os.getpid())
    _reap_all()
    _waiting.append(_Starter())


def run_reaped(
    command: list[str],
    prepare: Callable[[], None] | None = None,
    parent: int | None = None,
    swept: Callable[[int], None] | None = None,
) -> int:
    """Run the command to its end; on return (or a stop signal) none of its processes live.

    `prepare` puts the sandbox on the thread that starts the command: on the command only, so
    that (with Landlock's signal scoping, ABI 6+) the command cannot kill or stop its reaper.
    `parent` is the process we must not outlive, when known (the fork server's pid).
    `swept` is told how we are about to end (a wait status, as our parent will see it) once
    nothing of the command is left, before we end; only when the command ended on its own
    (a stop signal may mean our parent died, which the parent's side must hear of from it)
    and the sweep did not run out of time.
    """
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    # If our parent (nanotui, or its fork server) dies, we hear of it and take the command
    # down with us.
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, stop_once)
        # The parent died before the death signal was set: we were adopted meanwhile.
        if os.getppid() == 1 or (parent is not None and os.getppid() != parent):
            return 125
    except Stop:
        return 128 + signal.SIGTERM  # stopped before the command started: nothing to sweep
    status: int | None = None
    try:
        try:
            child = _start(command, prepare)
        except SandboxNotApplied as exc:
            os.write(2, f"landlock_exec: the sandbox could not be applied: {exc}\n".encode())
            return 126
        except OSError as exc:
            os.write(2, f"{command[0]}: {exc.strerror}\n".encode())
            return 127
        while True:
            pid, raw = os.waitpid(-1, 0)  # adopted orphans are reaped here too
            if os.WIFSTOPPED(raw):
                # It made us its tracer (PTRACE_TRACEME), which we will not be: it dies.
                _signal(pid, signal.SIGKILL)
            elif pid == child:
                status = raw
                break
    except Stop:
        pass
    finally:
        # Marked first, and inline (a helper's start could run a handler before it marks):
        # when the command ended on its own no stop has marked it yet, and list.append runs
        # no handler, so from here on a stop changes nothing.
        _stopping.append(True)
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        cleared = kill_descendants()
    if cleared and swept is not None and status is not None:
        swept(status)  # `_end_like` ends us the same way
    return 128 + signal.SIGTERM if status is None else _end_like(status)
