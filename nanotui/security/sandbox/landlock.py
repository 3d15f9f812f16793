"""The Landlock backend: for machines where bwrap cannot start (no user namespaces).

Each command is started by the fork server (`fork_server.py`), whose copy runs
`landlock_exec.main`: it restricts the command it starts, which then becomes bash:
writes go only to the workspace and a private temp folder (TMPDIR points there; one the
command left as it was made is kept for the next, `temp_folders.py`), reads go everywhere.
Without network, IP and Unix sockets are refused by a seccomp filter (TCP by Landlock too,
from ABI 4; abstract Unix sockets outside by Landlock's scoping too, from ABI 6). The copy
stays as the command's parent and kills what the command leaves behind, `setsid` or not.
Landlock cannot hide files, but it can leave reading out: the home folders (and nanotui's
own folders) are unreadable except what `[sandbox] home_allow` lists (`home.py`); listing
`/` or `/home` is refused with them.
Credential files inside the workspace stay readable (a writable folder cannot be carved up
cheaply), as does all of a home that is itself the workspace: bwrap is the stronger backend.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nanotui.config import DEFAULT_HOME_ALLOW
from nanotui.security.sandbox import landlock_exec, seccomp_net
from nanotui.security.sandbox.base import CommandResult, LaunchPlan, command_environment
from nanotui.security.sandbox.fork_client import run_forked
from nanotui.security.sandbox.home import home_view, read_grants, shown_grants
from nanotui.security.sandbox.process import Limits
from nanotui.security.sandbox.temp_folders import TempFolders, remove_temp

NETWORK_OPEN_NOTICE = (
    "This machine can block the network neither with Landlock (it needs ABI 4) nor with "
    "seccomp (its system call numbers are not known here), so the command could reach it; "
    "use the bwrap backend to cut it off."
)
_probe: dict[str, str | None] = {}


def probe_landlock() -> str | None:
    """None if Landlock can restrict a process here, else why not."""
    if "landlock" not in _probe:
        if not sys.platform.startswith("linux"):
            _probe["landlock"] = "Landlock exists only on Linux."
        elif landlock_exec.abi_version() < 1:
            _probe["landlock"] = "this kernel has no Landlock, or it is disabled."
        else:
            _probe["landlock"] = None
    return _probe["landlock"]


class LandlockRunner:
    """Runs each command under a Landlock domain limited to the workspace and a temp folder."""

    backend = "landlock"

    def __init__(
        self,
        workspace: Path,
        limits: Limits | None = None,
        pass_env: Sequence[str] = (),
        *,
        network: bool = False,
        home_allow: Sequence[str] = DEFAULT_HOME_ALLOW,
    ) -> None:
        self.workspace = workspace
        self.home_allow = tuple(home_allow)
        """What of the home folders commands may read (see `home.py`)."""
        self.limits = limits
        self.pass_env = tuple(pass_env)
        self.network = network
        """Whether commands reach the network when a call does not say."""
        self.abi = landlock_exec.abi_version()
        self.temps = TempFolders()

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
        """Run `bash -c command` under Landlock; `network` overrides the default per call."""
        allow_network = self.network if network is None else network
        temp = self.temps.take()
        try:
            options, environment = self._options(temp, env, allow_network)
            outcome = await run_forked(
                [*options, "--gate", "--", "bash", "-c", command],
                cwd=cwd,
                env=environment,
                timeout_s=timeout_s,
                max_output_bytes=max_output_bytes,
                limits=self.limits,
                writable=[temp],  # its disk counts towards max_workspace_growth_mb too
            )
        finally:
            self.temps.give_back(temp)
        return CommandResult(
            **vars(outcome), backend=self.backend, notice=self._notice(allow_network)
        )

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        network: bool = False,
        read: Sequence[Path] = (),
    ) -> LaunchPlan:
        """A long-lived program under the same Landlock domain as a command, started by the
        launcher itself (`ProgramLauncher`): it stays as its reaping parent, and dies, taking
        the program down, when nanotui dies."""
        allow_network = network and self.network
        temp = Path(tempfile.mkdtemp(prefix="nanotui-server-"))
        options, environment = self._options(temp, env, allow_network)
        if "--read" in options:  # else reading is not narrowed, and all of `read` is readable
            options += [option for path in read for option in ("--read", str(path))]
        plan = LaunchPlan(
            [*launcher_argv(), *options, "--", *argv],
            environment,
            cwd,
            self.backend,
            notice=self._notice(allow_network),
            limits=self.limits,
        )
        plan.cleanups.append(lambda: remove_temp(temp))
        return plan

    def _options(
        self, temp: Path, env: dict[str, str] | None, allow_network: bool
    ) -> tuple[list[str], dict[str, str]]:
        """The launcher's options for one command or program, and its environment."""
        environment = command_environment(self.pass_env, env)
        environment["TMPDIR"] = str(temp)
        # --reap: the launcher stays as the command's parent and, at the end, kills
        # whatever it left behind, even what escaped the process group with setsid.
        options = ["--reap", "--write", str(self.workspace.resolve()), "--write", str(temp)]
        if not allow_network:
            options.append("--no-network")
        view = home_view(environment, self.home_allow, self.workspace)
        for path in [*read_grants(view.hidden), *shown_grants(view)]:
            options += ["--read", path]
        return options, environment

    def _notice(self, allow_network: bool) -> str:
        network_open = self.abi < 4 and not seccomp_net.supported()
        return NETWORK_OPEN_NOTICE if not allow_network and network_open else ""


def launcher_argv() -> list[str]:
    """The Landlock launcher run on its own, not forked by the fork server."""
    return [os.path.realpath(sys.executable), "-I", "-S", landlock_exec.__file__]
