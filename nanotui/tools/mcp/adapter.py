"""One tool of an MCP server, as a tool the model may call (`ExternalTool`).

It holds no policy: the call is judged by its rule name (`mcp:docs/search`) before `run`,
and what comes back is redacted and checked for injection by the tool-call runner, like any
tool's output. Its definition is the server's latest listing; whether the person approved
it is asked of the pins when the model is offered tools and again at each call.
"""

from __future__ import annotations

import json
from typing import Any

from nanotui.protocol.basics import clipped
from nanotui.protocol.model_io import ToolSpec
from nanotui.security.external_rules import rule_name
from nanotui.tools.base import (
    ExternalTool,
    ToolArgumentError,
    ToolContext,
    ToolFailure,
    ToolOutput,
)
from nanotui.tools.mcp.connection import McpConnection
from nanotui.tools.mcp.pins import PinStore, ToolDefinition


class McpTool(ExternalTool):
    """`tool` of the server behind `connection`, called by the model as `name`."""

    def __init__(self, name: str, tool: str, connection: McpConnection, pins: PinStore) -> None:
        self.name = name  # type: ignore[misc]  # per instance, not per class
        self.tool = tool
        self.connection = connection
        self.pins = pins
        self.rule_name = rule_name(connection.name, tool)

    @property
    def definition(self) -> ToolDefinition:
        for definition in self.connection.definitions:
            if definition.name == self.tool:
                return definition
        return ToolDefinition(self.tool, "(no longer offered by the server)", {})

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"[MCP server {self.connection.name}] {self.definition.description}".strip()

    def spec(self) -> ToolSpec:
        schema = self.definition.input_schema or {"type": "object", "properties": {}}
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    def parse_args(self, raw: Any) -> dict[str, Any]:  # type: ignore[override]
        # The server checks its own schema; nanotui only needs an object to show and send.
        if not isinstance(raw, dict):
            raise ToolArgumentError(f"The arguments for {self.name} must be a JSON object.")
        return raw

    def summary(self, args: Any) -> str:
        return clipped(f"{self.rule_name} {json.dumps(args, sort_keys=True)}", 120)

    def unapproved(self) -> str:
        problem = self.pins.problem(self.connection.name, self.definition)
        return f"{problem} ({how_to_accept(self.connection.name)})" if problem else ""

    def shown(self, args: Any) -> str:
        return json.dumps(args, indent=2, sort_keys=True, ensure_ascii=False)

    async def run(self, args: Any, ctx: ToolContext) -> ToolOutput:
        # Judged again now: the server may have listed a changed definition while the
        # person was deciding, and the model's arguments were written for the one approved.
        await self.connection.relisted()
        if problem := self.unapproved():
            return ToolOutput(ok=False, content=f"Not called: {problem}.")
        try:
            result = await self.connection.call(self.tool, args)
        except ToolFailure as exc:
            return ToolOutput(ok=False, content=str(exc))
        return ToolOutput(
            ok=not getattr(result, "is_error", False),
            content=result_text(result),
            data={"server": self.connection.name, "mcp_tool": self.tool},
        )


def how_to_accept(server: str) -> str:
    """How the person accepts the definitions of `server`, in the app and outside it."""
    return f"accept with `/mcp accept {server}` in the app or `nanotui mcp tools {server} --accept`"


def result_text(result: Any) -> str:
    """What the model reads of a `CallToolResult`: its text, and what else it holds named."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} ({getattr(block, 'mime_type', '')}) not shown]")
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        else:
            parts.append(f"[{kind or 'content'} not shown]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, indent=2, sort_keys=True, ensure_ascii=False))
    return "\n".join(parts)
