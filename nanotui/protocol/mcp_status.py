"""What `/mcp` and `nanotui mcp tools` show of a session's MCP servers and their tools."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ToolStatus:
    """One tool of a server."""

    name: str
    """As the server names it."""
    model_name: str
    """As the model calls it (`mcp__docs__search`)."""
    description: str
    unapproved: str = ""
    """How its definition differs from the one approved, or ""."""


@dataclass
class ServerStatus:
    """One server, started or not."""

    name: str
    kind: str
    """stdio or http."""
    state: str
    """running, not started (and why), failed: why, or stopped."""
    notice: str = ""
    tools: list[ToolStatus] = field(default_factory=list)
