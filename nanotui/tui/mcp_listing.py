"""What `/mcp` shows: each MCP server, its state, and its tools with their approval; and
what `/mcp accept SERVER` shows before it accepts: the definitions in full."""

from __future__ import annotations

from nanotui.protocol.mcp_status import ServerStatus, ToolStatus, tool_lines

ACCEPT_USAGE = (
    "`/mcp` lists the MCP servers; `/mcp accept SERVER` accepts a server's new or changed "
    "tool definitions."
)


def mcp_listing(servers: list[ServerStatus]) -> str:
    """The text of `/mcp`, one fact per line."""
    if not servers:
        return "No MCP servers: add [mcp.servers.NAME] to config.toml (README, MCP servers)."
    lines = []
    for server in servers:
        kind = f" ({server.kind})" if server.kind else ""
        lines.append(f"{server.name}{kind}: {server.state}")
        if server.state == "not started":
            lines.append("  it starts with this session's first prompt")
        if server.notice:
            lines.append(f"  {server.notice}")
        for tool in server.tools:
            lines += tool_lines(tool)
        if any(tool.unapproved for tool in server.tools):
            lines.append(
                f"  Not offered to the model until you accept them: /mcp accept {server.name}"
            )
    lines.append('Rules name these tools mcp:SERVER/TOOL, e.g. allow = ["mcp:docs/*"].')
    return "\n".join(lines)


def acceptance_view(server: str, waiting: list[ToolStatus]) -> str:
    """The definitions `/mcp accept` is about to accept, as the model will read them."""
    lines = [f"Accepting these definitions of {server}:"]
    for tool in waiting:
        lines += tool_lines(tool)
    return "\n".join(lines)
