"""What `/mcp` shows: each MCP server, its state, and its tools with their approval."""

from __future__ import annotations

from nanotui.protocol.mcp_status import ServerStatus


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
            lines.append(f"  {tool.model_name}: {tool.description}")
            if tool.unapproved:
                lines.append(f"    waits for approval: {tool.unapproved}")
    lines.append('Rules name these tools mcp:SERVER/TOOL, e.g. allow = ["mcp:docs/*"].')
    return "\n".join(lines)
