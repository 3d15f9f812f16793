"""How much a command may add to the disk the workspace is on, watched while it runs.

RLIMIT_FSIZE bounds each file (`max_file_mb`), not their sum: a hundred files just under it
filled 4.8 GB. The watch reads the filesystem's used space (statvfs, a cheap system call)
every POLL_S and stops the command when it has grown by more than the budget since the
command started. Walking the tree to sum file sizes would cost seconds on a large repository
and miss files written outside it; the filesystem's count misses nothing the command writes
there. It is conservative: other programs writing to the same disk meanwhile count against
the command too, and space freed by them gives it room back. Its private /tmp is not on
this disk; that tmpfs has a size of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.2
MB = 1024 * 1024


def used_bytes(folder: Path) -> int | None:
    """Bytes in use on the filesystem holding `folder`, or None if it cannot be read."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


@dataclass
class GrowthWatch:
    """One command's watch; `stopped` says why it was stopped, or is empty."""

    folder: Path
    budget_mb: int | None
    baseline: int | None
    stopped: str = ""

    @classmethod
    def begin(cls, folder: Path, budget_mb: int | None) -> GrowthWatch:
        """Take the starting figure (only when there is a budget)."""
        return cls(folder, budget_mb, used_bytes(folder) if budget_mb else None)

    def grown(self) -> int:
        """Bytes added since the start (0 when unknown)."""
        now = used_bytes(self.folder)
        if now is None or self.baseline is None:
            return 0
        return now - self.baseline

    async def watch(self, stop: Callable[[], None]) -> None:
        """Poll until cancelled; past the budget, call `stop` once and say so."""
        if not self.budget_mb or self.baseline is None:
            return
        while True:
            await asyncio.sleep(POLL_S)
            grown = self.grown()
            if grown > self.budget_mb * MB:
                self.stopped = (
                    f"it added {grown // MB} MB to the workspace's disk, more than the "
                    f"{self.budget_mb} MB a command may add ([sandbox] max_workspace_growth_mb)"
                )
                stop()
                return
