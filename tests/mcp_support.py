"""Configuring the test MCP server (tests/mcp_test_server.py) for a test's NANOTUI_HOME."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fake_model_server import RecordedRequest
from tools_support import git, init_repo

SERVER_SCRIPT = Path(__file__).with_name("mcp_test_server.py")
HOSTILE_SCRIPT = Path(__file__).with_name("mcp_hostile_server.py")
SERVER_NEEDS = [Path(sys.prefix).resolve(), SERVER_SCRIPT.parent.resolve()]
"""What the server must read besides the system: this checkout's virtual environment and the
script. Under /tmp (a fresh clone in CI) bwrap's private /tmp hides both: they are named in
`read`. (A checkout in a home folder would need [sandbox] home_allow instead.)"""
HOMES = (Path("/home"), Path("/root"), Path.home())


def _outside_homes(path: Path) -> bool:
    return not any(path == home or home in path.parents for home in HOMES)


def make_repo(tmp_path: Path) -> Path:
    """A repository with one commit, the session's workspace."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("hello\n")
    init_repo(repo)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    return repo


def server_toml(
    name: str = "t",
    *,
    env: dict[str, str] | None = None,
    extra: str = "",
    script: Path = SERVER_SCRIPT,
    shell_first: str = "",
) -> str:
    """An `[mcp.servers.NAME]` table starting the test server (or `script`) with this Python;
    with `shell_first`, a shell runs that line and then becomes the server."""
    argv = [sys.executable, str(script)]
    if shell_first:
        argv = ["sh", "-c", f'{shell_first}\nexec "$0" "$1"', *argv]
    lines = [
        f"[mcp.servers.{name}]",
        f"command = {json.dumps(argv[0])}",
        f"args = {json.dumps(argv[1:])}",
        "timeout_s = 30",
        f"read = {json.dumps([str(p) for p in SERVER_NEEDS if _outside_homes(p)])}",
    ]
    if env:
        pairs = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
        lines.append(f"env = {{ {pairs} }}")
    return "\n".join([*lines, extra, ""])


def user_config(home: Path, *parts: str, policy: dict[str, list[str]] | None = None) -> None:
    """The user's config.toml: no checkpoints (short runs), the policy lists, the servers."""
    lines = ["[checkpoints]", "enabled = false", ""]
    if policy:
        lines.append("[policy]")
        lines += [f"{key} = {json.dumps(rules)}" for key, rules in policy.items()]
        lines.append("")
    (home / "config.toml").write_text("\n".join([*lines, *parts]))


def offered(request: RecordedRequest) -> set[str]:
    """The tool names a request the scripted model server received offered the model."""
    return {tool["function"]["name"] for tool in request.body["tools"]}
