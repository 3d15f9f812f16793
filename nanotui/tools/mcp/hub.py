"""A session's MCP servers: started together, their tools offered, stopped together.

Servers an untrusted folder named are listed, never started. A server is listed the first
time in a project: its tools are pinned as they are (`pins`); later listings are judged
against those pins, and a tool that is new or changed waits for the person's approval.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from nanotui.config import McpConfig
from nanotui.protocol.mcp_status import ServerStatus, ToolStatus
from nanotui.security.sandbox.base import ProgramLauncher
from nanotui.tools.mcp.adapter import McpTool
from nanotui.tools.mcp.connection import McpConnection
from nanotui.tools.mcp.names import model_tool_name
from nanotui.tools.mcp.pins import PinStore

UNTRUSTED = "not started: the folder is not trusted"


class McpHub:
    """The session's servers and their tools."""

    def __init__(
        self,
        config: McpConfig,
        workspace: Path,
        launcher: ProgramLauncher | None,
    ) -> None:
        self.workspace = workspace
        self.pins = PinStore(workspace)
        self.untrusted = [name for name in config.untrusted if name not in config.servers]
        self.connections = {
            name: McpConnection(name, server, launcher, workspace)
            for name, server in config.servers.items()
            if name not in config.untrusted
        }
        self.tools: dict[str, McpTool] = {}
        """The model's name for each tool -> the tool."""

    async def start(self, names: list[str] | None = None) -> list[str]:
        """Start the servers (all, or those named) at once; sentences for the user: what
        failed, what is new or changed and waits for approval."""
        chosen = [self.connections[n] for n in names or self.connections if n in self.connections]
        await asyncio.gather(*(connection.start() for connection in chosen))
        said: list[str] = []
        for connection in chosen:
            if connection.state == "failed":
                said.append(
                    f"The MCP server {connection.name} did not start ({connection.reason}); "
                    "its tools are not offered. Check its [mcp.servers] entry."
                )
                continue
            if connection.notice:
                said.append(f"The MCP server {connection.name}: {connection.notice}")
            if not self.pins.knows(connection.name):
                self.pins.pin(connection.name, connection.definitions)  # the first listing
            self._offer(connection)
            connection.on_tools_changed.append(lambda c=connection: self._offer(c))
            waiting = [
                t.rule_name
                for t in self.tools.values()
                if t.connection is connection and t.unapproved()
            ]
            if waiting:
                said.append(
                    f"New or changed MCP tool definitions wait for your approval: "
                    f"{', '.join(waiting)}; a call to one shows its definition first "
                    f"(or accept with `nanotui mcp tools {connection.name} --accept`)."
                )
        return said

    def _offer(self, connection: McpConnection) -> None:
        """(Re)make the tools of `connection` from its latest listing."""
        for name in [n for n, t in self.tools.items() if t.connection is connection]:
            del self.tools[name]
        for definition in connection.definitions:
            name = model_tool_name(connection.name, definition.name, set(self.tools))
            self.tools[name] = McpTool(name, definition.name, connection, self.pins)

    def accept(self, server: str) -> int:
        """Approve every current definition of `server`; how many were not approved before."""
        connection = self.connections[server]
        waiting = [d for d in connection.definitions if self.pins.problem(server, d)]
        self.pins.pin(server, connection.definitions)
        return len(waiting)

    def status(self) -> list[ServerStatus]:
        """Every server, started or not, with its tools (not started yet: before the
        session's first prompt)."""
        listed = [ServerStatus(name, "", UNTRUSTED) for name in self.untrusted]
        for connection in self.connections.values():
            state = connection.state
            if state == "failed":
                state = f"failed: {connection.reason}"
            tools = [
                ToolStatus(t.tool, name, t.definition.description, t.unapproved())
                for name, t in self.tools.items()
                if t.connection is connection
            ]
            kind = "http" if connection.config.url else "stdio"
            listed.append(ServerStatus(connection.name, kind, state, connection.notice, tools))
        return sorted(listed, key=lambda s: s.name)

    async def aclose(self) -> None:
        """Stop every server; none of their processes outlives this."""
        await asyncio.gather(
            *(c.aclose() for c in self.connections.values()), return_exceptions=True
        )
