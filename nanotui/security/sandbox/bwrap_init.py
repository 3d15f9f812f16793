"""The first process of a bwrap sandbox, learnt from bwrap itself, to kill the whole sandbox.

`--die-with-parent` takes the sandbox down when bwrap dies, but bwrap arms it inside the
sandbox only once the sandbox is set up: a command cancelled in those first milliseconds
(a turn interrupted as the command starts, on a busy machine) would lose bwrap and go on
running, unsupervised, wherever no cgroup holds it. So bwrap reports the sandbox's first
process (`--info-fd`), which is PID 1 of the sandbox's PID namespace: killing it kills
every process in the namespace at once, set up or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

INFO_FD = 8
"""The descriptor bwrap writes its report to (`--info-fd`)."""
REPORT_WAIT_S = 2.0
"""How long a kill waits for a report bwrap has not written yet (bwrap writes it right
after making the sandbox's first process, so this is only ever a few milliseconds)."""


class SandboxInit:
    """bwrap's report file for one command, and killing what it names."""

    def __init__(self, folder: Path) -> None:
        self.report = folder / "bwrap-info.json"

    def wrap(self, argv: list[str]) -> list[str]:
        """argv (bwrap's) asked to report, behind a tiny sh that opens the report file."""
        opener = f'exec {INFO_FD}>"$0" && exec "$@"'
        return ["sh", "-c", opener, str(self.report), argv[0], "--info-fd", str(INFO_FD), *argv[1:]]

    def pid(self) -> int | None:
        """The host pid of the sandbox's PID 1, once bwrap has reported it."""
        try:
            return int(json.loads(self.report.read_text())["child-pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    async def kill(self, bwrap_alive: Callable[[], bool]) -> None:
        """SIGKILL the sandbox's PID 1 (and so all the sandbox), waiting for bwrap's report
        while bwrap still runs and has not written it."""
        deadline = time.monotonic() + REPORT_WAIT_S
        while (pid := self.pid()) is None and bwrap_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if pid is not None and _is_namespace_init(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _is_namespace_init(pid: int) -> bool:
    """True while `pid` is PID 1 of a nested PID namespace (not a reused pid)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return line.split()[-1] == "1" and len(line.split()) > 2
    return False
