"""Choosing a backend from the settings: the first that starts, or a runner that refuses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nanotui.security.network.allowlist import DomainAllowlist
from nanotui.security.network.proxy import AllowlistProxy
from nanotui.security.sandbox.base import CommandRunner
from nanotui.security.sandbox.process import Limits
from nanotui.security.sandbox.runners import GuardedRunner, PlainRunner, UnavailableRunner

if TYPE_CHECKING:
    from nanotui.config import SandboxConfig


NO_ISOLATION_WARNING = (
    "Commands run without a sandbox (backend: plain); the policy and your approvals still apply."
)


def isolation_warning(backend: str, network: str = "none") -> str | None:
    """What every front end and the session log say when commands run unisolated, or when
    the backend cannot hold them to the network allowlist (`network` is [sandbox] network)."""
    said = [NO_ISOLATION_WARNING if backend == "plain" else None]
    said.append(allowlist_warning(backend, network))
    return " ".join(s for s in said if s) or None


def allowlist_warning(backend: str, network: str) -> str | None:
    """One sentence when [sandbox] network = "allowlist" but `backend` cannot enforce it:
    only bwrap gives a command a network namespace that reaches nothing but the proxy."""
    if network != "allowlist" or backend not in ("landlock", "plain"):
        return None
    what = (
        "commands get no network at all, listed names included"
        if backend == "landlock"
        else "commands reach the whole network"
    )
    return (
        f'The network allowlist ([sandbox] network = "allowlist") is not enforced by the '
        f"{backend} backend, so {what}; install bubblewrap and set [sandbox] backend = "
        '"bwrap" to hold commands to allowed_domains.'
    )


def probe_backends() -> dict[str, str | None]:
    """Each backend mapped to None if it starts here, or one sentence on why it does not."""
    from nanotui.security.sandbox.bwrap import probe_bwrap
    from nanotui.security.sandbox.landlock import probe_landlock

    return {"bwrap": probe_bwrap(), "landlock": probe_landlock(), "plain": None}


def make_runner(
    settings: SandboxConfig,
    workspace: Path,
    protected_paths: Sequence[str] | None = None,
    proxy: AllowlistProxy | None = None,
) -> CommandRunner:
    """The runner the settings ask for: a backend that starts, or one that refuses.

    `protected_paths` (the policy's; the defaults when None) name the credential files bwrap
    hides from commands. With network = "allowlist", `proxy` (one is made when None) opens
    the listed names for bwrap's commands; Landlock has no network namespace to hold a
    command to it, so its commands get no network at all (plain blocks nothing)."""
    from nanotui.security.sandbox.bwrap import BwrapRunner
    from nanotui.security.sandbox.landlock import LandlockRunner

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
    if proxy is None and settings.network == "allowlist":
        proxy = AllowlistProxy(DomainAllowlist(settings.allowed_domains))
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
                    network=settings.network == "full",
                    home_allow=settings.home_allow,
                    protected_paths=protected_paths,
                    proxy=proxy if settings.network == "allowlist" else None,
                    readable_credentials=settings.readable_credentials,
                )
            else:
                runner = LandlockRunner(
                    workspace,
                    limits,
                    pass_env,
                    network=settings.network == "full",
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
