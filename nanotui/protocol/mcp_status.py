"""What `/mcp` and `nanotui mcp tools` show of a session's MCP servers and their tools."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolStatus:
    """One tool of a server."""

    name: str
    """As the server names it."""
    model_name: str
    """As the model calls it (`mcp__docs__search`)."""
    description: str
    unapproved: str = ""
    """How its definition differs from the one approved, or "": while it does, the model is
    not offered the tool."""
    input_schema: dict[str, Any] = field(default_factory=dict)
    injection_flags: str = ""
    """What in its description or schema reads like instructions to the model, or ""."""
    digest: str = ""
    """Its definition's hash: accepting names the definitions the person was shown."""


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


def tool_lines(tool: ToolStatus) -> list[str]:
    """One tool, indented under its server: its description, a flag when it reads like
    instructions to the model, and in full (with its input schema) while it waits."""
    lines = [f"  {tool.model_name}: {tool.description}"]
    if tool.injection_flags:
        lines.append(f"    ⚠ reads like instructions to the model: {tool.injection_flags}")
    if tool.unapproved:
        lines.append(f"    waits for approval: {tool.unapproved}")
        schema = json.dumps(tool.input_schema, indent=2, sort_keys=True, ensure_ascii=False)
        lines.append("    input schema: " + schema.replace("\n", "\n    "))
    return lines
