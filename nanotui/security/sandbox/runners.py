"""The runners that are not a kernel sandbox: plain, the guard around every backend, and the
one that refuses everything."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from nanotui.security.jail.command_guard import Guard
from nanotui.security.jail.watched_scan import WatchedScan
from nanotui.security.sandbox.base import (
    CommandResult,
    CommandRunner,
    LaunchPlan,
    SandboxUnavailable,
    command_environment,
)
from nanotui.security.sandbox.fork_client import run_forked
from nanotui.security.sandbox.landlock import launcher_argv
from nanotui.security.sandbox.process import Limits

NO_ISOLATION_NOTICE = "It runs without a sandbox (backend: plain)."
LOOK_IN_PLACE_S = 0.002
"""A work tree whose last look took less than this is looked at before the next command on
the event loop: handing the look to a thread and back costs about 0.2 ms, more than the look
itself in a small tree. The look after a command is always on the loop (see `run`)."""


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
        # The fork server's copy stays as the command's parent: it kills what the command
        # leaves behind, what escaped its process group with setsid included, and takes it
        # all down if nanotui dies (a cgroup outlives us; bwrap has --die-with-parent).
        outcome = await run_forked(
            ["--no-landlock", "--reap", "--gate", "--", "bash", "-c", command],
            cwd=cwd,
            env=command_environment(self.pass_env, env),
            timeout_s=timeout_s,
            max_output_bytes=max_output_bytes,
            limits=self.limits,
            # Where programs put temporary files (often a tmpfs): counted with the workspace.
            writable=[Path(tempfile.gettempdir())],
        )
        return CommandResult(**vars(outcome), backend=self.backend, notice=self.notice)

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        network: bool = False,
        read: Sequence[Path] = (),
    ) -> LaunchPlan:
        """A long-lived program with no isolation, its reaping launcher in front so that it
        dies with nanotui (`ProgramLauncher`); `network` is not blocked here, and all of
        `read` is readable anyway."""
        # The launcher's --reap only: no Landlock (it is what plain means).
        argv = [*launcher_argv(), "--no-landlock", "--reap", "--", *argv]
        notice = self.notice or NO_ISOLATION_NOTICE
        environment = command_environment(self.pass_env, env)
        return LaunchPlan(argv, environment, cwd, self.backend, notice=notice, limits=self.limits)


class GuardedRunner:
    """Any runner, with the workspace's control files put back after each command and the
    repositories it made made harmless (`command_guard`)."""

    def __init__(self, inner: CommandRunner, workspace: Path) -> None:
        self.inner = inner
        self.workspace = workspace
        self.backend = inner.backend
        self.looks = WatchedScan(workspace)
        """The looks for repositories, shared by this runner's commands: in a big tree the
        kernel's watch answers most of them (`watched_scan`)."""
        self.last_look_s: float | None = None
        """How long the last look at the work tree took (None before the first)."""

    def warm_up_soon(self) -> None:
        """Take the first look at the work tree now, as a session opens: in a big tree that
        look also sets up the kernel's watch (three passes over the tree, 0.5 s at 10,000
        folders), which the session's first command would otherwise wait for. On a daemon
        thread: it only reads, and a session closed meanwhile must not wait for it."""
        threading.Thread(target=self._warm_up, name="guard-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        with contextlib.suppress(OSError):  # the first command looks again, and says
            self.looks.look(may_start_watch=True)

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
        # The first look at the work tree can take a while in a big one: off the event loop,
        # unless it was quick last time. The last stays on it, so that nothing (not a
        # cancellation) skips the put-back.
        guard = await self._look()
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
            started = time.perf_counter()
            said = guard.finish()
            self.last_look_s = time.perf_counter() - started  # the tree as the command left it
        if said:
            result.notice = " ".join([result.notice, *said]).strip()
        return result

    async def _look(self) -> Guard:
        """The look before a command, on a thread unless the last look was quick."""

        def look(on_a_thread: bool) -> Guard:
            started = time.perf_counter()
            guard = Guard(self.workspace, self.looks, start_watch=on_a_thread)
            self.last_look_s = time.perf_counter() - started
            return guard

        # A watched tree's last look was quick because the watch kept it; the next may have
        # to list folders made since (by a running program, or the user): on a thread,
        # unless the watch has nothing queued.
        quick = self.last_look_s is not None and self.last_look_s < LOOK_IN_PLACE_S
        if quick and (not self.looks.watching or self.looks.quiet()):
            return look(on_a_thread=False)
        return await asyncio.to_thread(look, True)

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        network: bool = False,
        read: Sequence[Path] = (),
    ) -> LaunchPlan:
        """The inner backend's plan, with the workspace's control files put back once the
        program has ended, as after a command."""
        plan = self.inner.launch(argv, cwd=cwd, env=env, network=network, read=read)  # type: ignore[attr-defined]
        plan.cleanups.append(Guard(self.workspace, self.looks).finish)
        return plan


class UnavailableRunner:
    """Stands in when the settings forbid every backend that starts: refuses each command."""

    backend = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def run(self, command: str, **_: object) -> CommandResult:
        raise SandboxUnavailable(self.reason)

    def launch(self, argv: Sequence[str], **_: object) -> LaunchPlan:
        raise SandboxUnavailable(self.reason)
