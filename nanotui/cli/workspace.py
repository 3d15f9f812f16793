"""What every command starts from: the folder it works in and the settings read there.

Also the error a user can fix (a folder that is not one, a flag out of range), which `main`
prints as one sentence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nanotui.protocol.basics import UserFacingError

if TYPE_CHECKING:
    from nanotui.config import Settings
    from nanotui.config_loading import LoadedConfig


class UserError(UserFacingError):
    """Something the user can fix; printed as one sentence, exit code 1."""


def resolve_workspace(arg: Path | None) -> Path:
    workspace = (arg or Path.cwd()).expanduser()
    if not workspace.is_dir():
        raise UserError(f"The workspace {workspace} is not a folder; pass --workspace DIR.")
    return workspace.resolve()


def provider_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that override the configuration, in the shape of the settings."""
    provider = "demo" if getattr(args, "demo", False) else getattr(args, "provider", None)
    return {
        "provider": {
            "kind": provider,
            "base_url": getattr(args, "base_url", None),
            "model": getattr(args, "model", None),
        },
        "approval": {"mode": getattr(args, "mode", None)},
    }


def load_for(
    args: argparse.Namespace,
    workspace: Path,
    *,
    trust_once: bool = False,
    said: list[str] | None = None,
) -> LoadedConfig:
    """The settings for this folder (its own config only if trusted), notices to stderr and
    into `said` (for a front end whose user does not see stderr, an editor)."""
    from nanotui.config_loading import load_settings
    from nanotui.security.trust import is_trusted

    trusted = trust_once or is_trusted(workspace)
    loaded = load_settings(workspace, provider_flags(args), trusted=trusted)
    for notice in loaded.notices:
        print(f"nanotui: {notice}", file=sys.stderr)
    if said is not None:
        said += loaded.notices
    return loaded


def prepare_demo_workspace(workspace: Path, explicit: bool) -> Path:
    """The demo works on its sample project: a fresh copy unless DIR already is one."""
    from nanotui.providers.demo import demo_copy_notice, demo_workspace

    target = demo_workspace(workspace)
    if notice := demo_copy_notice(workspace, target, explicit=explicit):
        print(f"nanotui: {notice}", file=sys.stderr)
    return target


def capped(settings: Settings, max_cost_usd: float | None) -> Settings:
    """The settings with this run's `--max-cost-usd` on top of the configured budgets: the
    session may spend no more than the lower of the two."""
    if max_cost_usd is None:
        return settings
    if max_cost_usd <= 0:
        raise UserError("--max-cost-usd must be more than 0.")
    configured = settings.budget.session_usd
    cap = max_cost_usd if configured is None else min(configured, max_cost_usd)
    return settings.model_copy(
        update={"budget": settings.budget.model_copy(update={"session_usd": cap})}
    )
