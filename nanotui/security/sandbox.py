"""Running shell commands: the result shape, the runner protocol, and choosing a backend.

Three backends share one protocol and one way of spawning (`sandbox_process`):

- bwrap (`sandbox_bwrap`): read-only root, private /tmp, writable workspace minus its git
  hooks and config, credential folders hidden, no network, own PID and user namespaces.
- landlock (`sandbox_landlock`): writes only to the workspace and a private temp folder,
  IP sockets refused by seccomp (TCP by Landlock too, ABI 4+), everything readable.
- plain: limits only, no isolation; used when chosen, or when `auto` finds nothing else
  and `require` is off.

Whatever a command starts dies with it, and with nanotui, in every backend: bwrap by its PID
namespace (--die-with-parent), the others by their process group, their pids cgroup where
one can be made, and the launcher that stays as their reaping parent (`process_reaper`).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel

from nanotui.security import landlock_exec
from nanotui.security.command_guard import Guard
from nanotui.security.sandbox_process import (
    CommandStartError,
    Limits,
    run_process,
)
from nanotui.security.secrets import scrubbed_environment

if TYPE_CHECKING:
    from nanotui.config import SandboxConfig

__all__ = [
    "CommandResult",
    "CommandRunner",
    "CommandStartError",
    "Limits",
    "PlainRunner",
    "SandboxUnavailable",
    "isolation_warning",
    "make_runner",
    "probe_backends",
]


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


def command_environment(pass_env: Sequence[str], extra: dict[str, str] | None) -> dict[str, str]:
    """The scrubbed environment, the variables passed on purpose, and the caller's additions."""
    environment = scrubbed_environment(passed=pass_env)
    if extra:
        environment.update(extra)
    return environment


class PlainRunner:
    """No isolation beyond a process group, limits and a scrubbed environment."""

    backend = "plain"

    def __init__(
        self,
        limits: Limits | None = None,
        pass_env: Sequence[str] = (),
        notice: str = "",
    ) -> None:
        self.limits = limits
        self.pass_env = tuple(pass_env)
        self.notice = notice
        """Said with every result: set when plain was a fallback rather than the choice."""

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        timeout_s: float,
        max_output_bytes: int,
        env: dict[str, str] | None = None,
        network: bool | None = None,
    ) -> CommandResult:
        """Run `bash -c command`; `env` adds variables on top of the scrubbed environment."""
        # `network` is accepted for the protocol's sake: plain never blocks it.
        argv = ["bash", "-c", command]
        # The launcher stays as the command's parent: it kills what the command leaves
        # behind, what escaped its process group with setsid included, and takes it all down
        # if nanotui dies (a cgroup outlives us; bwrap has --die-with-parent). About 25 ms.
        options = ["--no-landlock", "--reap"]

        def build(held: bool) -> list[str]:
            return [*landlock_exec.launcher(*options, *(["--gate"] if held else [])), "--", *argv]

        outcome = await run_process(
            build,
            cwd=cwd,
            env=command_environment(self.pass_env, env),
            timeout_s=timeout_s,
            max_output_bytes=max_output_bytes,
            limits=self.limits,
            # Where programs put temporary files (often a tmpfs): counted with the workspace.
            writable=[Path(tempfile.gettempdir())],
        )
        return CommandResult(**vars(outcome), backend=self.backend, notice=self.notice)


class GuardedRunner:
    """Any runner, with the workspace's control files put back after each command and the
    repositories it made made harmless (`command_guard`)."""

    def __init__(self, inner: CommandRunner, workspace: Path) -> None:
        self.inner = inner
        self.workspace = workspace
        self.backend = inner.backend

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        timeout_s: float,
        max_output_bytes: int,
        env: dict[str, str] | None = None,
        network: bool | None = None,
    ) -> CommandResult:
        # The first look at the work tree can take a while in a big one: off the event loop.
        # The last stays on it, so that nothing (not a cancellation) skips the put-back.
        guard = await asyncio.to_thread(Guard, self.workspace)
        try:
            result = await self.inner.run(
                command,
                cwd=cwd,
                timeout_s=timeout_s,
                max_output_bytes=max_output_bytes,
                env=env,
                network=network,
            )
        finally:
            # Also after a timeout or a cancellation: what was planted must not stay.
            said = guard.finish()
        if said:
            result.notice = " ".join([result.notice, *said]).strip()
        return result


class UnavailableRunner:
    """Stands in when the settings forbid every backend that starts: refuses each command."""

    backend = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def run(self, command: str, **_: object) -> CommandResult:
        raise SandboxUnavailable(self.reason)


NO_ISOLATION_WARNING = (
    "Commands run without a sandbox (backend: plain); the policy and your approvals still apply."
)


def isolation_warning(backend: str) -> str | None:
    """What every front end and the session log say when commands run unisolated."""
    return NO_ISOLATION_WARNING if backend == "plain" else None


def probe_backends() -> dict[str, str | None]:
    """Each backend mapped to None if it starts here, or one sentence on why it does not."""
    from nanotui.security.sandbox_bwrap import probe_bwrap
    from nanotui.security.sandbox_landlock import probe_landlock

    return {"bwrap": probe_bwrap(), "landlock": probe_landlock(), "plain": None}


def make_runner(
    settings: SandboxConfig, workspace: Path, protected_paths: Sequence[str] | None = None
) -> CommandRunner:
    """The runner the settings ask for: a backend that starts, or one that refuses.

    `protected_paths` (the policy's; the defaults when None) name the credential files bwrap
    hides from commands."""
    from nanotui.security.sandbox_bwrap import BwrapRunner
    from nanotui.security.sandbox_landlock import LandlockRunner

    limits = Limits(
        memory_mb=settings.memory_mb,
        max_processes=settings.max_processes,
        max_file_mb=settings.max_file_mb,
        cpu_time_s=settings.cpu_time_s,
        tmp_mb=settings.tmp_mb,
        max_growth_mb=settings.max_workspace_growth_mb,
    )
    pass_env = tuple(settings.pass_env)
    if settings.backend == "plain":
        return GuardedRunner(PlainRunner(limits, pass_env), workspace)
    problems = probe_backends()
    wanted = ["bwrap", "landlock"] if settings.backend == "auto" else [settings.backend]
    for name in wanted:
        if problems[name] is None:
            runner: CommandRunner
            if name == "bwrap":
                runner = BwrapRunner(
                    workspace,
                    limits,
                    pass_env,
                    network=settings.network,
                    home_allow=settings.home_allow,
                    protected_paths=protected_paths,
                    readable_credentials=settings.readable_credentials,
                )
            else:
                runner = LandlockRunner(
                    workspace,
                    limits,
                    pass_env,
                    network=settings.network,
                    home_allow=settings.home_allow,
                )
            return GuardedRunner(runner, workspace)
    if settings.backend != "auto":
        return UnavailableRunner(
            f"The {settings.backend} sandbox does not start here ({problems[settings.backend]}); "
            'set [sandbox] backend = "auto" or "plain" to run commands anyway.'
        )
    if settings.require:
        return UnavailableRunner(
            "No sandbox backend starts here and [sandbox] require is on, so commands are "
            f"refused (bwrap: {problems['bwrap']}; landlock: {problems['landlock']})."
        )
    fallback = PlainRunner(
        limits,
        pass_env,
        notice="No sandbox starts here, so this command ran without isolation "
        "(install bubblewrap or use a kernel with Landlock).",
    )
    return GuardedRunner(fallback, workspace)
