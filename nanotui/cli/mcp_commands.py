"""`nanotui mcp list` and `nanotui mcp tools NAME [--accept]`: the MCP servers of a folder.

`list` reads the settings only (nothing starts); `tools` starts the one server in the
sandbox a session would, lists its tools with whether each definition is approved (those
that are not in full), and with `--accept` approves the ones it printed (README, MCP
servers: pinning).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from nanotui.cli.workspace import UserError, load_for, resolve_workspace
from nanotui.protocol.mcp_status import tool_lines


def cmd_mcp_list(args: argparse.Namespace) -> int:
    workspace = resolve_workspace(args.workspace)
    mcp = load_for(args, workspace).settings.mcp
    rows: list[dict[str, Any]] = [
        {"name": name, "kind": "stdio", "state": "not started: the folder is not trusted"}
        for name in mcp.untrusted
        if name not in mcp.servers
    ]
    for name, server in mcp.servers.items():
        where = server.url or " ".join([server.command or "", *server.args])
        kind = "http" if server.url else "stdio"
        state = "not started: listed in [mcp] untrusted" if name in mcp.untrusted else "configured"
        rows.append({"name": name, "kind": kind, "state": state, "runs": where})
    rows.sort(key=lambda row: row["name"])
    if args.json:
        print(json.dumps({"servers": rows}, indent=2))
    elif not rows:
        print("No MCP servers are configured ([mcp.servers.NAME] in config.toml).")
    for row in rows if not args.json else []:
        print(f"{row['name']:<16} {row['kind']:<6} {row['state']}  {row.get('runs', '')}".rstrip())
    return 0


def cmd_mcp_tools(args: argparse.Namespace) -> int:
    # Imported here: building the parser must stay cheap (`nanotui --help`).
    from nanotui.engine.assembly import build_tool_environment
    from nanotui.tools.mcp.hub import McpHub

    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace).settings
    if args.name not in settings.mcp.servers or args.name in settings.mcp.untrusted:
        untrusted = args.name in settings.mcp.untrusted
        raise UserError(
            f"The MCP server {args.name} is "
            + (
                "named by this folder's config, which is not trusted; trust the folder first."
                if untrusted
                else "not configured; see `nanotui mcp list`."
            )
        )
    import asyncio

    launcher = build_tool_environment(settings, workspace).context.runner
    hub = McpHub(settings.mcp, workspace, launcher)
    return asyncio.run(_show_tools(hub, args.name, accept=args.accept, as_json=args.json))


async def _show_tools(hub: Any, name: str, *, accept: bool, as_json: bool) -> int:
    try:
        said = await hub.start([name])
        [status] = [s for s in hub.status() if s.name == name]
        if status.state != "running":
            raise UserError(f"The MCP server {name} did not start ({status.state}).")
        # What is printed below is what is accepted: a definition changed since is not.
        waiting = [tool for tool in status.tools if tool.unapproved]
        accepted = hub.accept(name, {tool.digest for tool in waiting}) if accept else []
        acceptance = hub.acceptance(name, accepted) if accept else ""
    finally:
        await hub.aclose()
    if as_json:
        tools = [vars(tool) for tool in status.tools]
        body = {"server": name, "tools": tools, "accepted": [d.name for d in accepted]}
        print(json.dumps(body, indent=2))
        return 0
    for sentence in said if not accept else []:
        print(f"nanotui: {sentence}")
    for tool in status.tools:
        print("\n".join(tool_lines(tool)).removeprefix("  "))
    if accept:
        print(acceptance)
    return 0
