"""`nanotui mcp list` and `nanotui mcp tools NAME [--accept]`: the MCP servers of a folder.

`list` reads the settings only (nothing starts); `tools` starts the one server in the
sandbox a session would, lists its tools with whether each definition is approved (those
that are not in full), and with `--accept` approves the ones it printed, at a terminal only
once the person said yes to them (README, MCP servers: pinning).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from nanotui.cli.asking import ask_yes, at_a_terminal
from nanotui.cli.workspace import UserError, load_for, resolve_workspace
from nanotui.protocol.basics import plural
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
    import asyncio  # loaded already (this runs in it); not at the top: see cmd_mcp_tools

    # At a terminal, --accept shows the definitions and asks before it accepts: a server may
    # list something else to each run, so the person reads the very listing they accept.
    asks = accept and not as_json and at_a_terminal()
    shown = False
    try:
        said = await hub.start([name])
        [status] = [s for s in hub.status() if s.name == name]
        if status.state != "running":
            raise UserError(f"The MCP server {name} did not start ({status.state}).")
        # What is printed is what is accepted: a definition changed since is not.
        waiting = [tool for tool in status.tools if tool.unapproved]
        if asks and waiting:
            _print_tools(said, status.tools)
            shown = True
            question = f"Accept the {plural(len(waiting), 'definition')} waiting above? [y/N] "
            accept = await asyncio.to_thread(ask_yes, question)
        accepted = hub.accept(name, {tool.digest for tool in waiting}) if accept else []
        acceptance = hub.acceptance(name, accepted) if accept else "Nothing was accepted."
    finally:
        await hub.aclose()
    if as_json:
        tools = [vars(tool) for tool in status.tools]
        body = {"server": name, "tools": tools, "accepted": [d.name for d in accepted]}
        print(json.dumps(body, indent=2))
        return 0
    if not shown:
        _print_tools(said if not accept else [], status.tools)
    if accept or shown:
        print(acceptance)
    return 0


def _print_tools(said: list[str], tools: list[Any]) -> None:
    for sentence in said:
        print(f"nanotui: {sentence}")
    for tool in tools:
        print("\n".join(tool_lines(tool)).removeprefix("  "))
