"""What running a shell command gives back, and the protocol every backend offers.

Three backends share this protocol and one way of spawning (`process`):

- bwrap (`bwrap`): read-only root, private /tmp, writable workspace minus its git hooks and
  config, credential folders hidden, no network, own PID and user namespaces.
- landlock (`landlock`): writes only to the workspace and a private temp folder, IP sockets
  refused by seccomp (TCP by Landlock too, ABI 4+), everything readable.
- plain (`runners`): limits only, no isolation; used when chosen, or when `auto` finds
  nothing else and `require` is off.

Whatever a command starts dies with it, and with nanotui, in every backend: bwrap by its PID
namespace (--die-with-parent), the others by their process group, their pids cgroup where
one can be made, and the fork server's copy that stays as their reaping parent
(`fork_server`, `process_reaper`).
The backend is chosen in `choose`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from nanotui.security.sandbox.process import CommandStartError, Limits
from nanotui.security.secrets.environment import scrubbed_environment


class CommandResult(BaseModel):
    """What a command did. exit_code is None when it never finished on its own (killed)."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    """Output passed max_output_bytes; its middle was cut, the head and the tail kept."""
    backend: str
    duration_s: float
    notice: str = ""
    """What the user should know about how it ran (no isolation, network not blocked)."""
    stopped: str = ""
    """Why nanotui stopped it early (memory, disk), as the end of "stopped: ..."."""


class SandboxUnavailable(CommandStartError):
    """No backend the settings allow can start here; commands are refused."""


@runtime_checkable
class CommandRunner(Protocol):
    """Runs one shell command line; every backend offers this."""

    backend: str

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        timeout_s: float,
        max_output_bytes: int,
        env: dict[str, str] | None = None,
        network: bool | None = None,
    ) -> CommandResult: ...


@dataclass
class LaunchPlan:
    """How a backend starts one long-lived program (an MCP server) in its sandbox: the argv
    (the backend's own wrapping around the program's), its environment and inherited
    descriptors, and what to undo once it has ended (`long_lived.start_long_lived`)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    backend: str
    pass_fds: tuple[int, ...] = ()
    cleanups: list[Callable[[], object]] = field(default_factory=list)
    notice: str = ""
    """What the user should know about how it runs (no isolation)."""
    limits: Limits | None = None
    """The backend's limits for commands, which the program gets too."""

    def undo(self) -> None:
        """Run every cleanup, each whatever the others do (a descriptor closed, a folder
        removed): after the program or command ended, or when it never started."""
        for cleanup in self.cleanups:
            with contextlib.suppress(Exception):
                cleanup()


@runtime_checkable
class ProgramLauncher(Protocol):
    """Wraps a long-lived program in the sandbox the backend gives commands."""

    backend: str

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        network: bool = False,
        read: Sequence[Path] = (),
    ) -> LaunchPlan:
        """The plan to start `argv`; `network` True gives it what commands get (the
        sandbox's network setting), False none at all; `read`: folders outside the home
        folders the program must also read (its installation), shown read-only."""
        ...


def command_environment(pass_env: Sequence[str], extra: dict[str, str] | None) -> dict[str, str]:
    """The scrubbed environment, the variables passed on purpose, and the caller's additions."""
    environment = scrubbed_environment(passed=pass_env)
    if extra:
        environment.update(extra)
    return environment
