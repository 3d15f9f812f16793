"""Network names remembered for one project: the "always for this project" answer.

When a command reaches a name `[sandbox] allowed_domains` lacks, the app asks; `p` allows
it for good in that project. The names live in `remembered_hosts.toml` under the config
folder (beside `trusted.toml`), a table of resolved project folders, each with its names:
the user's own answers, never the repository's, so they count in a folder not yet trusted.

Each later session of the project adds them to `allowed_domains` (with network =
"allowlist"), marked as remembered, unless an organisation's managed settings forbid it: a
remembered name never reaches past a managed `allowed_domains` (only its exact entries are
kept, as for any lower layer), a managed `network = "none"`, or `[managed]
ask_unlisted_domains = false`; each one left out is said in a notice naming that setting.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from nanotui import paths
from nanotui.config import Settings
from nanotui.config_managed import managed_sets
from nanotui.protocol.atomic_write import write_atomically
from nanotui.protocol.setting_origins import MANAGED_PREFIX


def _read() -> dict[str, list[str]]:
    try:
        data = tomllib.loads(paths.remembered_hosts_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}  # none yet, or damaged: nothing is remembered (the app asks again)
    projects = data.get("projects", {})
    if not isinstance(projects, dict):
        return {}
    return {
        folder: [name for name in names if isinstance(name, str)]
        for folder, names in projects.items()
        if isinstance(names, list)
    }


def remembered_hosts(workspace: Path) -> list[str]:
    """The names allowed for good in `workspace`'s project."""
    return _read().get(str(workspace.resolve()), [])


def remember_host(workspace: Path, host: str) -> Path:
    """Allow `host` for good in `workspace`'s project; returns the file it is kept in (an
    OSError when that cannot be written)."""
    projects = _read()
    names = projects.setdefault(str(workspace.resolve()), [])
    target = paths.remembered_hosts_file()
    if host in names:
        return target
    names.append(host)
    paths.ensure_private_dir(target.parent)
    # The whole file is ours: written afresh.
    write_atomically(target, tomli_w.dumps({"projects": projects}, indent=2))
    return target


def remembered_layer() -> str:
    """How `/policy` and the notices name where a remembered name comes from."""
    return f"remembered for this project ({paths.remembered_hosts_file()})"


def add_remembered_hosts(
    settings: Settings,
    workspace: Path,
    managed: dict[str, Any] | None,
    sources: dict[str, str],
    domain_sources: dict[str, str],
    notices: list[str],
) -> Settings:
    """`settings` with the project's remembered names in `allowed_domains`, within what the
    `managed` file allows; `domain_sources` gets the layer of each name listed."""
    listed_by = sources.get("sandbox.allowed_domains")
    if settings.sandbox.network == "allowlist":
        domain_sources.update(
            dict.fromkeys(settings.sandbox.allowed_domains, listed_by or "defaults")
        )
    hosts = [h for h in remembered_hosts(workspace) if h not in settings.sandbox.allowed_domains]
    if not hosts:
        return settings
    where = str(paths.managed_config_file())
    refusal = _managed_refusal(settings, managed or {}, sources)
    if settings.sandbox.network != "allowlist" and refusal is None:
        return settings  # the network is off or open by the user's choice: nothing to add
    kept = [h for h in hosts if refusal is None or refusal[1](h)]
    for host in hosts:
        if host not in kept and refusal is not None:
            notices.append(
                f"{host}, remembered for this project, is not reached: {refusal[0]} "
                f"(managed by your organisation, {where}); ask its administrators if you need it."
            )
    if not kept or settings.sandbox.network != "allowlist":
        return settings
    label = remembered_layer()
    sources["sandbox.allowed_domains"] = f"{listed_by} + {label}" if listed_by else label
    domain_sources.update(dict.fromkeys(kept, label))
    allowed = [*settings.sandbox.allowed_domains, *kept]
    return settings.model_copy(
        update={"sandbox": settings.sandbox.model_copy(update={"allowed_domains": allowed})}
    )


def _managed_refusal(
    settings: Settings, managed: dict[str, Any], sources: dict[str, str]
) -> tuple[str, Callable[[str], bool]] | None:
    """(the managed setting in words, which names it still lets through), or None when the
    managed file leaves remembered names alone."""
    if settings.sandbox.network != "allowlist":
        # "full" reaches every name anyway; "none" by the user's own choice needs no notice.
        if settings.sandbox.network == "none" and sources.get("sandbox.network", "").startswith(
            MANAGED_PREFIX
        ):
            return 'sandbox.network is "none"', lambda host: False
        return None
    if managed_sets(managed, "sandbox", "allowed_domains"):
        ceiling = set(Settings(**managed).sandbox.allowed_domains)
        return "sandbox.allowed_domains does not list it", ceiling.__contains__
    if not settings.managed.ask_unlisted_domains:
        return "managed.ask_unlisted_domains is off", lambda host: False
    return None
