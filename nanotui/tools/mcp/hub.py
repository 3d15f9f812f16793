"""A session's MCP servers: started together, their tools offered, stopped together.

Servers an untrusted folder named are listed, never started. A server is listed the first
time in a project: its tools are pinned as they are (`pins`), but for a definition that
reads like instructions to the model. Later listings, and a listing the server asks for by
saying its tools changed, are judged against those pins: a tool that is new or changed is
withheld from the model, and the person told so once, until they accept it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from pathlib import Path

from nanotui.config import McpConfig
from nanotui.protocol.basics import UserFacingError, plural
from nanotui.protocol.mcp_status import ServerStatus, ToolStatus
from nanotui.security.sandbox.base import ProgramLauncher
from nanotui.tools.mcp.adapter import McpTool, how_to_accept
from nanotui.tools.mcp.connection import McpConnection
from nanotui.tools.mcp.names import model_tool_name
from nanotui.tools.mcp.pins import PinStore, ToolDefinition

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
        """The model's name for each tool -> the tool (withheld ones too: a call naming one
        is refused by the policy, not met as an unknown tool)."""
        self._announced: dict[str, frozenset[str]] = {}
        """Per server, the digests of the withheld definitions the person was last told of."""
        self._untold: list[str] = []

    async def start(self, names: list[str] | None = None) -> list[str]:
        """Start the servers (all, or those named) at once; sentences for the user: what
        failed, what is new or changed and withheld until accepted."""
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
                # Trust on first use, but not of a definition that addresses the model.
                first = [d for d in connection.definitions if not d.injection_flags]
                self.pins.pin(connection.name, first)
            self._offer(connection)
            connection.on_tools_changed.append(lambda c=connection: self._relisted(c))
            said += self._withheld_notice(connection)
        return said

    async def settle(self) -> list[str]:
        """Wait for the listings servers asked for by saying their tools changed; sentences
        for the user about definitions withheld since."""
        await asyncio.gather(*(c.relisted() for c in self.connections.values()))
        said, self._untold = self._untold, []
        return said

    def _relisted(self, connection: McpConnection) -> None:
        self._offer(connection)
        self._untold += self._withheld_notice(connection)

    def _offer(self, connection: McpConnection) -> None:
        """(Re)make the tools of `connection` from its latest listing."""
        for name in [n for n, t in self.tools.items() if t.connection is connection]:
            del self.tools[name]
        for definition in connection.definitions:
            name = model_tool_name(connection.name, definition.name, set(self.tools))
            self.tools[name] = McpTool(name, definition.name, connection, self.pins)

    def _withheld(self, connection: McpConnection) -> list[ToolDefinition]:
        return [d for d in connection.definitions if self.pins.problem(connection.name, d)]

    def _withheld_notice(self, connection: McpConnection) -> list[str]:
        """One sentence naming the definitions withheld from the model, when they are not
        the ones the person was last told of."""
        withheld = self._withheld(connection)
        digests = frozenset(d.digest for d in withheld)
        if digests == self._announced.get(connection.name, frozenset()):
            return []
        self._announced[connection.name] = digests
        if not withheld:
            return []
        server = connection.name
        named = ", ".join(
            f"mcp:{server}/{d.name} ({self.pins.standing(server, d)}"
            + ("; it reads like instructions to the model" if d.injection_flags else "")
            + ")"
            for d in withheld
        )
        return [
            f"The MCP server {server} offers {plural(len(withheld), 'tool definition')} you "
            f"have not accepted, withheld from the model until you do: {named}. Review them "
            f"with `/mcp` (or `nanotui mcp tools {server}`), then {how_to_accept(server)}."
        ]

    def accept(self, server: str, digests: Collection[str]) -> list[ToolDefinition]:
        """Approve the definitions of `server` among `digests` (those the person was shown:
        one that changed since is not accepted); the ones that were not approved before.
        The model is offered their tools from its next request."""
        connection = self.connections.get(server)
        if connection is None or connection.state != "running":
            raise UserFacingError(
                f"There is no running MCP server named {server}; `/mcp` lists them."
            )
        shown = [d for d in connection.definitions if d.digest in digests]
        newly = [d for d in shown if self.pins.problem(server, d)]
        self.pins.pin(server, shown)
        self._announced[server] = frozenset(d.digest for d in self._withheld(connection))
        return newly

    def acceptance(self, server: str, accepted: list[ToolDefinition]) -> str:
        """What accepting did, in one sentence (and what still waits: a definition that
        changed, or appeared, after the person was shown the others)."""
        names = ", ".join(f"mcp:{server}/{d.name}" for d in accepted)
        said = f"Accepted {plural(len(accepted), 'new or changed definition')} of {server}"
        said += f" ({names}): the model is offered them from its next step." if accepted else "."
        if waiting := self._withheld(self.connections[server]):
            said += (
                f" Still withheld: {plural(len(waiting), 'definition')} that changed or "
                "appeared after the others were shown; review and accept again."
            )
        return said

    def status(self) -> list[ServerStatus]:
        """Every server, started or not, with its tools (not started yet: before the
        session's first prompt)."""
        listed = [ServerStatus(name, "", UNTRUSTED) for name in self.untrusted]
        for connection in self.connections.values():
            state = connection.state
            if state == "failed":
                state = f"failed: {connection.reason}"
            tools = [
                tool_status(name, t.definition, t.unapproved())
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


def tool_status(model_name: str, definition: ToolDefinition, unapproved: str) -> ToolStatus:
    """What `/mcp` and `nanotui mcp tools` show of one tool."""
    return ToolStatus(
        definition.name,
        model_name,
        definition.description,
        unapproved,
        definition.input_schema,
        definition.injection_flags,
        definition.digest,
    )
