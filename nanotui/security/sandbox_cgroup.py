"""A pids cgroup per command, where the machine lets us make one: what holds a fork bomb.

RLIMIT_NPROC does not bind uid 0 (and bwrap run by root maps the sandbox to uid 0 outside,
so a user namespace does not help), and for other users it counts all of their processes.
A pids cgroup counts exactly the command's processes whoever runs it. We use one when our
own cgroup can have children: cgroup v1's pids hierarchy, or a v2 cgroup delegated to us
with the pids controller enabled for its children. Otherwise commands get none.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()
_usable: dict[str, Path | None] = {}


def _parent_dir() -> Path | None:
    """The pids cgroup folder our own process is in, if we may make children under it."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            folder = CGROUP_ROOT / "pids" / path.lstrip("/")
            if (folder / "cgroup.procs").exists():
                return folder
        if controllers == "":
            folder = CGROUP_ROOT / path.lstrip("/")
            with contextlib.suppress(OSError):
                if "pids" in (folder / "cgroup.subtree_control").read_text().split():
                    return folder
    return None


def pids_cgroup_parent() -> Path | None:
    """Where command cgroups go, checked once per process by making and removing one."""
    if "parent" not in _usable:
        parent = _parent_dir()
        if parent is not None:
            probe = parent / f"nanotui-{os.getpid()}-probe"
            try:
                probe.mkdir()
                (probe / "pids.max").write_text("1\n")
                probe.rmdir()
            except OSError:
                with contextlib.suppress(OSError):
                    probe.rmdir()
                parent = None
        _usable["parent"] = parent
    return _usable["parent"]


class PidsCgroup:
    """One command's cgroup: at most `max_processes` tasks, all killed at the end.

    Emptied cgroups go back to a pool for the next command instead of being removed: a
    cgroup whose last task just died stays busy for a moment, and waiting for that would
    add milliseconds to every command. The pool is removed when the process exits.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.procs_file = path / "cgroup.procs"

    @classmethod
    def create(cls, max_processes: int) -> PidsCgroup | None:
        parent = pids_cgroup_parent()
        if parent is None:
            return None
        if _pool:
            path = _pool.pop()
        else:
            path = parent / f"nanotui-{os.getpid()}-{next(_counter)}"
            try:
                path.mkdir()
            except OSError:
                return None
        try:
            (path / "pids.max").write_text(f"{max_processes}\n")
        except OSError:
            _remove(path)
            return None
        return cls(path)

    def add(self, pid: int) -> None:
        """Move a (held, not yet running) process in; what it forks later stays in."""
        self.procs_file.write_text(str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all_and_release(self) -> None:
        """SIGKILL every task in it, then hand it back to the pool (or remove it)."""
        # pids.max bounds how many can appear while we kill, so a few rounds always end it.
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self.release()

    def release(self) -> None:
        if self.pids() or len(_pool) >= POOL_SIZE:
            _remove(self.path)
        else:
            _pool.append(self.path)


POOL_SIZE = 4
_pool: list[Path] = []


def _remove(path: Path) -> None:
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
    while _pool:
        _remove(_pool.pop())
