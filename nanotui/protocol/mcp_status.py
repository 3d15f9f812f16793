"""What `/mcp` and `nanotui mcp tools` show of a session's MCP servers and their tools."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nanotui.protocol.basics import visible_controls


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
    # The server wrote the description: its control characters show as symbols (an escape
    # sequence could hide words from the person that the model still reads), and its
    # lines stay indented under the tool (they cannot pass for another tool's).
    description = visible_controls(tool.description).replace("\n", "\n    ")
    lines = [f"  {tool.model_name}: {description}"]
    if tool.injection_flags:
        lines.append(f"    ⚠ reads like instructions to the model: {tool.injection_flags}")
    if tool.unapproved:
        lines.append(f"    waits for approval: {visible_controls(tool.unapproved, keep='')}")
        schema = json.dumps(tool.input_schema, indent=2, sort_keys=True, ensure_ascii=False)
        lines.append("    input schema: " + schema.replace("\n", "\n    "))
    return lines
