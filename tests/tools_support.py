"""Shared helpers for the tool tests: a real workspace, a real runner, real git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from nanotui.config import DEFAULT_PROTECTED_PATHS
from nanotui.security.jail.workspace import Workspace
from nanotui.security.sandbox.runners import PlainRunner
from nanotui.tools.base import Tool, ToolContext, ToolOutput


def make_ctx(root: Path, **overrides: Any) -> ToolContext:
    """A ToolContext over `root` with the default protected paths and the plain runner."""
    ws = Workspace(root, list(DEFAULT_PROTECTED_PATHS))
    return ToolContext(workspace=ws, runner=PlainRunner(), **overrides)


async def call(tool: Tool, ctx: ToolContext, **raw: Any) -> ToolOutput:
    """Parse the arguments as the engine does, then run the tool."""
    return await tool.run(tool.parse_args(raw), ctx)


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity, returning stdout."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    )
    return done.stdout


def init_repo(root: Path) -> None:
    git(root, "init", "-q", "-b", "main", ".")


def process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped by init) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - not Linux
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
