"""How much a command may add to the disks it can write to, watched while it runs.

RLIMIT_FSIZE bounds each file (`max_file_mb`), not their sum: a hundred files just under it
filled 4.8 GB. The watch reads each writable filesystem's used space (statvfs, a cheap system
call) every time `process.py` polls (0.2 s) and stops the command when the total has
grown by more than the budget since the command started. Walking the tree to sum file sizes
would cost seconds on a large repository and miss files written outside it; the filesystem's
count misses nothing the command writes there, and ext4 and tmpfs count pages not yet
flushed as used. It is conservative: other programs writing to the same disk meanwhile
count against the command too, and space freed by them gives it room back. A command can
overshoot by what it writes between two polls; each file is bounded by `max_file_mb` anyway.

The folders watched are the working folder's disk and, for Landlock, the command's private
temp folder's (often another filesystem: a tmpfs /tmp, whose pages then also count as the
command's memory). bwrap's private /tmp is a tmpfs of its own with a size (`tmp_mb`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024


def used_bytes(folder: Path) -> int | None:
    """Bytes in use on the filesystem holding `folder`, or None if it cannot be read."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


def _one_per_filesystem(folders: Iterable[Path]) -> list[Path]:
    """The folders, one for each filesystem (counting a disk twice would halve the budget)."""
    seen: set[int] = set()
    kept = []
    for folder in folders:
        with contextlib.suppress(OSError):
            device = folder.stat().st_dev
            if device not in seen:
                seen.add(device)
                kept.append(folder)
    return kept


@dataclass
class GrowthWatch:
    """One command's watch over the filesystems it may write to."""

    budget_mb: int | None
    baselines: dict[Path, int] = field(default_factory=dict)

    @classmethod
    def begin(cls, folders: Iterable[Path], budget_mb: int | None) -> GrowthWatch:
        """Take the starting figures (only when there is a budget)."""
        baselines: dict[Path, int] = {}
        if budget_mb:
            for folder in _one_per_filesystem(folders):
                used = used_bytes(folder)
                if used is not None:
                    baselines[folder] = used
        return cls(budget_mb, baselines)

    def grown(self) -> int:
        """Bytes added since the start, all filesystems together (unreadable ones count 0)."""
        total = 0
        for folder, baseline in self.baselines.items():
            now = used_bytes(folder)
            if now is not None:
                total += now - baseline
        return total

    def check(self) -> str:
        """Why the command must stop (past the budget), or ""."""
        if not self.budget_mb or not self.baselines:
            return ""
        grown = self.grown()
        if grown <= self.budget_mb * MB:
            return ""
        return (
            f"it added {grown // MB} MB of files, more than the {self.budget_mb} MB a command "
            "may add ([sandbox] max_workspace_growth_mb), so it was stopped"
        )
