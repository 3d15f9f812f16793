"""A pids cgroup and a memory cgroup per command, where the machine lets us make them.

RLIMIT_NPROC does not bind uid 0 (and bwrap run by root maps the sandbox to uid 0 outside,
so a user namespace does not help), and for other users it counts all of their processes.
A pids cgroup counts exactly the command's processes whoever runs it: what holds a fork bomb.

RLIMIT_AS limits each process on its own: three processes took three times `memory_mb`. A
memory cgroup limits the command as a whole (every process, and the pages of its private
/tmp, a tmpfs), swap included where the kernel counts it. Past it the kernel's OOM killer
stops one process; cgroup v2 then kills the whole cgroup (memory.oom.group), and on v1 the
command's watch (`memory_cgroup.MemoryCgroup.check`, polled by `process.py`) kills the rest, so a
command never carries on with a part of itself gone. The result says why, in one sentence.

We use them when our own cgroup can have children: cgroup v1's pids and memory hierarchies,
or a v2 cgroup delegated to us with the controller (`_v2_parent`). Otherwise commands get
none, memory and processes are limited per process by rlimits only, and `nanotui doctor`
and `nanotui sandbox run --json` say which. This module finds where they can be made and
holds the pids cgroup; the memory cgroup is `memory_cgroup.py`'s.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()
_usable: dict[str, Path | None] = {}


def _own_cgroups() -> list[str]:
    """The lines of /proc/self/cgroup ("id:controllers:path"), or none."""
    try:
        return Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []


def _parent_dir(controller: str) -> Path | None:
    """The `controller` cgroup folder our own process is in, if we may make children there."""
    for line in _own_cgroups():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = CGROUP_ROOT / controller / path.lstrip("/")
            if (folder / "cgroup.procs").exists():
                return folder
        if controllers == "":
            found = _v2_parent(CGROUP_ROOT / path.lstrip("/"), controller)
            if found is not None:
                return found
    return None


def _v2_parent(folder: Path, controller: str) -> Path | None:
    """Our cgroup v2 folder, if commands' `controller` cgroups can be made in it.

    That is so where the controller is enabled for its children (the root), or where the
    folder is delegated to us (`systemd-run --user --scope -p Delegate=yes nanotui`): v2 lets
    a cgroup hand a controller to its children only while it holds no process itself, so
    nanotui first moves itself into a leaf of its own (nanotui-<pid>-self). Where another
    process shares the folder (the shell that started us) that fails, nanotui moves back,
    and commands get no cgroup.
    """
    leaf_name = f"nanotui-{os.getpid()}-self"
    moved = folder.name == leaf_name
    parent = folder.parent if moved else folder
    try:
        if controller in (parent / "cgroup.subtree_control").read_text().split():
            return parent
        if controller not in (parent / "cgroup.controllers").read_text().split():
            return None
    except OSError:
        return None
    leaf = parent / leaf_name
    try:
        if not moved:
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (parent / "cgroup.subtree_control").write_text(f"+{controller}")
    except OSError:
        if not moved:
            with contextlib.suppress(OSError):
                (parent / "cgroup.procs").write_text(str(os.getpid()))
            with contextlib.suppress(OSError):
                leaf.rmdir()
        return None
    return parent


def _probed_parent(
    key: str, controller: str, limit_files: Sequence[str], value: str
) -> Path | None:
    """The folder for commands' `controller` cgroups, checked once per process by making and
    removing one and setting its limit (the first of `limit_files` it has: v1's or v2's)."""
    if key not in _usable:
        parent = _parent_dir(controller)
        if parent is not None:
            if controller == "memory":
                # Not pids: another PID namespace's nanotui keeps empty ones in its pool.
                _sweep_dead(parent)
            probe = parent / f"nanotui-{os.getpid()}-probe-{controller}"
            try:
                probe.mkdir()
                limit_file = next((name for name in limit_files if (probe / name).exists()), None)
                if limit_file is None:
                    raise OSError(f"no {controller} limit in the cgroup")
                (probe / limit_file).write_text(value)
                probe.rmdir()
            except OSError:
                with contextlib.suppress(OSError):
                    probe.rmdir()
                parent = None
        _usable[key] = parent
    return _usable[key]


def new_folder(parent: Path, stem: str) -> Path | None:
    """A new folder below `parent`, named `stem` and the next number not taken: a nanotui
    gone may have left the first name tried (or one in another PID namespace with our pid
    may use it), and taking it, or giving up, would leave the command without its limit."""
    for _ in range(100):
        path = parent / f"{stem}{next(_counter)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError:
            return None
        return path
    return None


def _sweep_dead(parent: Path) -> None:
    """Remove the empty cgroups that nanotui processes now gone left behind (killed before
    they could remove them): a nanotui-<pid>-... folder whose pid is not running."""
    with contextlib.suppress(OSError):
        for folder in parent.glob("nanotui-*-*"):
            pid = folder.name.split("-")[1]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                # rmdir refuses a cgroup that still holds a task: nothing running is touched.
                with contextlib.suppress(OSError):
                    folder.rmdir()
            except PermissionError:
                pass


def pids_cgroup_parent() -> Path | None:
    """Where commands' pids cgroups go, or None."""
    return _probed_parent("parent", "pids", ["pids.max"], "1\n")


def memory_cgroup_parent() -> Path | None:
    """Where commands' memory cgroups go, or None (memory is then limited per process)."""
    return _probed_parent(
        "memory", "memory", ["memory.limit_in_bytes", "memory.max"], f"{64 << 20}\n"
    )


def limit_scopes() -> dict[str, str]:
    """Whether memory and processes are limited for the whole command or per process here."""
    return {
        "memory": "command" if memory_cgroup_parent() else "process",
        "processes": "command" if pids_cgroup_parent() else "process",
    }


def describe_limit_scopes() -> str:
    """One line for `nanotui doctor`."""
    scopes = limit_scopes()
    said = {
        "command": "for the whole command (a cgroup)",
        "process": "per process only (no cgroup can be made here)",
    }
    return f"memory {said[scopes['memory']]}; processes {said[scopes['processes']]}"


class PidsCgroup:
    """One command's cgroup: at most `max_processes` tasks, all killed at the end.

    Emptied cgroups go back to a pool for the next command instead of being removed: a
    cgroup whose last task just died stays busy for a moment, and waiting for that would
    add milliseconds to every command. The pool is removed when the process exits.
    """

    def __init__(self, path: Path, max_processes: int | None = None) -> None:
        self.path = path
        self.procs_file = path / "cgroup.procs"
        self.max_processes = max_processes
        """The limit written in it (a pooled one keeps it, and is not written again)."""

    @classmethod
    def create(cls, max_processes: int) -> PidsCgroup | None:
        parent = pids_cgroup_parent()
        if parent is None:
            return None
        made = None
        with contextlib.suppress(IndexError):  # the cleaner's thread fills it too
            made = _pool.pop()
        if made is not None and not made.procs_file.exists():
            # Removed meanwhile: empty, it looks like a dead nanotui's to one in another PID
            # namespace, which sweeps such folders (`_sweep_dead`).
            made = None
        if made is None:
            path = new_folder(parent, f"nanotui-{os.getpid()}-")
            if path is None:
                return None
            made = cls(path)
        if made.max_processes != max_processes:
            try:
                (made.path / "pids.max").write_text(f"{max_processes}\n")
            except OSError:
                remove_folder(made.path)
                return None
            made.max_processes = max_processes
        return made

    def add(self, pid: int) -> None:
        """Move a (held, not yet running) process in; what it forks later stays in."""
        self.procs_file.write_text(str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        """SIGKILL every task in it (what left the process group with setsid included)."""
        # pids.max bounds how many can appear while we kill, so a few rounds always end it.
        kill_tasks(self.procs_file)

    def kill_all_and_release(self) -> None:
        """SIGKILL every task in it, then hand it back to the pool (or remove it)."""
        self.kill_all()
        self.release()

    def release(self, pids: list[int] | None = None) -> None:
        """Hand it back to the pool once empty (or remove it); `pids`, when given, are its
        tasks as just read. A task still on its way out (the fork server's copy, which tells
        its command's end just before it exits) is waited for on the cleaner's thread."""
        left = self.pids() if pids is None else pids
        if left:
            cleaner.submit(self._release_once_empty)
        else:
            self._pool_or_remove()

    def _release_once_empty(self) -> None:
        for _ in range(50):
            if not self.pids():
                self._pool_or_remove()
                return
            time.sleep(0.002)
        self.kill_all()  # still there after 0.1 s: whatever it is, it goes
        remove_folder(self.path)

    def _pool_or_remove(self) -> None:
        if not self.procs_file.exists():
            return  # gone already
        if len(_pool) >= POOL_SIZE:
            remove_folder(self.path)
        else:
            _pool.append(self)


cleaner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanotui-cgroup-cleaner")
"""Releases cgroups, and makes the next memory cgroup, off the command's way (joined when
the process exits)."""
POOL_SIZE = 4
_pool: list[PidsCgroup] = []


def kill_tasks(procs_file: Path) -> None:
    """SIGKILL the tasks listed in a cgroup, a few rounds for those forked meanwhile."""
    for _ in range(50):
        try:
            pids = [int(p) for p in procs_file.read_text().split()]
        except (OSError, ValueError):
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def remove_folder(path: Path) -> None:
    # A cgroup can be removed once its last task has gone; a killed one may need a moment.
    # If it still will not go, an empty folder is left behind, nothing worse.
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.002)


@atexit.register
def _empty_pool() -> None:
    # After the cleaner's thread has ended (the executor joins it before atexit runs).
    while _pool:
        remove_folder(_pool.pop().path)
