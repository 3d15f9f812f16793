"""One command's memory cgroup: `memory_mb` for all of its processes together (see
`cgroup.py` for where cgroups can be made, and for the pids cgroup)."""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path

from nanotui.security.sandbox.cgroup import (
    cleaner,
    kill_tasks,
    memory_cgroup_parent,
    new_folder,
    remove_folder,
)


class MemoryCgroup:
    """One command's memory cgroup: `memory_mb` for all of its processes together.

    Made afresh for each command (never pooled): its OOM count must start at zero, and a
    cgroup v1 memory folder keeps charging pages of files the command left in the page cache.
    Making one costs about 0.2 ms, so the next command's is made ahead on the cleaner's thread
    while this one's runs.
    """

    def __init__(self, path: Path, v1: bool, memory_mb: int) -> None:
        self.path = path
        self.v1 = v1
        self.memory_mb = memory_mb

    @classmethod
    def create(cls, memory_mb: int) -> MemoryCgroup | None:
        """A fresh cgroup: the one made ahead when it fits, else one made now."""
        parent = memory_cgroup_parent()
        if parent is None:
            return None
        made = None
        with contextlib.suppress(IndexError):  # filled on the cleaner's thread
            made = _made_ahead.pop()
        if made is not None and (made.path.parent, made.memory_mb) != (parent, memory_mb):
            cleaner.submit(made.release)  # made for other settings
            made = None
        if made is not None and not (made.path / "cgroup.procs").exists():
            # Removed meanwhile: empty, it looks like a dead nanotui's to one in another PID
            # namespace, which sweeps such folders (`_sweep_dead`).
            made = None
        made = made or cls.make(parent, memory_mb)
        if made is not None:
            cleaner.submit(_make_ahead, parent, memory_mb)
        return made

    @classmethod
    def make(cls, parent: Path, memory_mb: int) -> MemoryCgroup | None:
        """A new cgroup below `parent` limited to `memory_mb`, or None if it cannot be made."""
        v1 = (parent / "memory.limit_in_bytes").exists()
        path = new_folder(parent, f"nanotui-{os.getpid()}-mem-")
        if path is None:
            return None
        limit = str(memory_mb << 20)
        try:
            if v1:
                (path / "memory.limit_in_bytes").write_text(limit)
                # Swap counted too where the kernel accounts it; absent otherwise.
                with contextlib.suppress(OSError):
                    (path / "memory.memsw.limit_in_bytes").write_text(limit)
            else:
                (path / "memory.max").write_text(limit)
                with contextlib.suppress(OSError):
                    (path / "memory.swap.max").write_text("0")
                # One OOM kill takes the whole command: not half a build carrying on.
                with contextlib.suppress(OSError):
                    (path / "memory.oom.group").write_text("1")
        except OSError:
            remove_folder(path)
            return None
        return cls(path, v1, memory_mb)

    def add(self, pid: int) -> None:
        """Move a (held, not yet running) process in; what it forks later stays in."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        """How many of the command's processes the kernel killed for passing the limit."""
        name = "memory.oom_control" if self.v1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def check(self) -> str:
        """Why the command must stop (the kernel killed a process of it for memory), or ""."""
        if not self.oom_kills():
            return ""
        return (
            f"the command's processes together passed the {self.memory_mb} MB memory limit "
            "([sandbox] memory_mb), so it was stopped"
        )

    def kill_all(self) -> None:
        """SIGKILL every task in it: on cgroup v1 the OOM killer takes only one."""
        kill_tasks(self.path / "cgroup.procs")

    def release_later(self) -> None:
        """`release`, on a thread of its own: emptying and removing a memory cgroup takes
        0.3 to 0.9 ms that the command's result need not wait for."""
        cleaner.submit(self.release)

    def release(self) -> None:
        """Remove it once the command is gone (killing is the pids cgroup's and the group's)."""
        if self.v1:
            # Pages the command left in the page cache move to the parent instead of
            # keeping the folder busy.
            with contextlib.suppress(OSError):
                (self.path / "memory.force_empty").write_text("0")
        remove_folder(self.path)


_made_ahead: list[MemoryCgroup] = []
"""The next command's memory cgroup, made on the cleaner's thread (at most one)."""


def _make_ahead(parent: Path, memory_mb: int) -> None:
    if not _made_ahead:
        made = MemoryCgroup.make(parent, memory_mb)
        if made is not None:
            _made_ahead.append(made)


@atexit.register
def _remove_made_ahead() -> None:
    # After the cleaner's thread has ended (the executor joins it before atexit runs).
    while _made_ahead:
        remove_folder(_made_ahead.pop().path)
