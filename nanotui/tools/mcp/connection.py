"""One MCP server's connection: started, listed, called, stopped.

The SDK's client is built on anyio, whose cancel scopes must be left in the task that
entered them; so one task per server (`_own`) enters the transport and the `ClientSession`
and holds them until the session ends, and calls from the turn's tasks use the session it
made. A stdio server is started in the command sandbox (`security.sandbox.long_lived`),
with no network unless its config says `network = true`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from nanotui.config import McpServerConfig
from nanotui.protocol.basics import clipped, visible_controls
from nanotui.security.sandbox.base import ProgramLauncher
from nanotui.security.sandbox.long_lived import LongLivedProcess, start_long_lived
from nanotui.tools.base import ToolFailure
from nanotui.tools.mcp.pins import ToolDefinition

MAX_TOOLS = 500
"""More tools than a model can choose among (providers take fewer in one request): a listing
past it is refused, not held in memory and checked against the pins at every step."""
MAX_DEFINITION_CHARS = 50_000
"""Far past any real tool's name, description and schema: one longer would be sent to the
model at every step (pinned unread on first use) and printed in full for review."""
MAX_PAGES = 100
"""A server whose every page names a next one is not followed for ever (a session waits for
a listing its server asked for before each step)."""
STOP_WAIT_S = 10.0
"""How long stopping a server may take before its task is cancelled (its process is killed
either way, `LongLivedProcess.aclose`)."""


class McpConnection:
    """A server's connection and what it said: state, reason, tool definitions."""

    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        launcher: ProgramLauncher | None,
        workspace: Path,
    ) -> None:
        self.name = name
        self.config = config
        self.launcher = launcher
        self.workspace = workspace
        self.state = "not started"
        """not started, starting, running, failed or stopped."""
        self.reason = ""
        """Why it failed, in words."""
        self.definitions: list[ToolDefinition] = []
        self.process: LongLivedProcess | None = None
        self.on_tools_changed: list[Any] = []
        """Called (no arguments) after the server said its tools changed and was listed."""
        self._relisting: asyncio.Task[None] | None = None
        self._session: Any = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def notice(self) -> str:
        """What the user should know about how it runs (no isolation)."""
        return self.process.plan.notice if self.process else ""

    async def start(self) -> None:
        """Start it and list its tools; a failure is its state and reason, never raised."""
        self.state = "starting"
        self._task = asyncio.create_task(self._own(), name=f"mcp server {self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready.wait()), self.config.timeout_s)
        except TimeoutError:
            self._fail(f"it did not answer within {self.config.timeout_s:g} s")
            await self.aclose()

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """The server's `CallToolResult` for one call, or ToolFailure in one sentence."""
        session = self._session
        if session is None:
            raise ToolFailure(
                f"The MCP server {self.name} is not running ({self.reason or self.state})."
            )
        try:
            return await asyncio.wait_for(
                session.call_tool(tool, arguments), timeout=self.config.timeout_s
            )
        except TimeoutError as exc:
            raise ToolFailure(
                f"The MCP server {self.name} did not answer within {self.config.timeout_s:g} s."
            ) from exc
        except Exception as exc:  # the server's error, or a connection that broke
            from mcp_types import CONNECTION_CLOSED

            if getattr(exc, "code", None) == CONNECTION_CLOSED:
                # It died, or wrote what is no message: `/mcp` says so, calls stop trying.
                self._fail("its connection closed")
                self._stop.set()
            raise ToolFailure(f"The MCP server {self.name} failed: {_words(exc)}.") from exc

    async def aclose(self) -> None:
        """Stop it: the session and transport end in their task, the process is killed."""
        self._stop.set()
        if self._relisting is not None:
            self._relisting.cancel()
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_WAIT_S)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        finally:
            if self.process is not None:
                await self.process.aclose()  # also when the task was cut short

    async def _own(self) -> None:
        from mcp import ClientSession  # only a session with MCP servers loads the SDK

        try:
            async with contextlib.AsyncExitStack() as stack:
                streams = await self._open(stack)
                session = await stack.enter_async_context(
                    ClientSession(
                        *streams,
                        read_timeout_seconds=self.config.timeout_s,
                        message_handler=self._on_message,
                    )
                )
                await session.initialize()
                self.definitions = await _list(session)
                self._session = session
                self.state = "running"
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # the server's failure is a state, not a crash of the session
            self._fail(_words(exc))
        finally:
            self._session = None
            if self.state == "running":
                self.state = "stopped"
            self._ready.set()

    async def _open(self, stack: contextlib.AsyncExitStack) -> tuple[Any, Any]:
        """The transport's two streams: the sandboxed process's pipes, or HTTP."""
        if self.config.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            read, write = await stack.enter_async_context(streamable_http_client(self.config.url))
            return read, write
        from nanotui.tools.mcp.stdio_transport import process_transport

        if self.launcher is None:
            raise ToolFailure("no sandbox was given to start it in")
        plan = self.launcher.launch(
            [self.config.command or "", *self.config.args],
            cwd=self.workspace,
            env=dict(self.config.env),
            network=self.config.network,
            read=[Path(entry) for entry in self.config.read],
        )
        self.process = await start_long_lived(plan)
        stack.push_async_callback(self.process.aclose)
        read, write = await stack.enter_async_context(process_transport(self.process))
        return read, write

    async def _on_message(self, message: Any) -> None:
        """A server notification: a changed tool list is listed again (and then judged
        against the pins like the first)."""
        import mcp_types

        if isinstance(message, mcp_types.ToolListChangedNotification) and self._session:
            earlier = self._relisting
            self._relisting = asyncio.get_running_loop().create_task(self._relist(earlier))

    async def relisted(self) -> None:
        """Wait for the listing a changed tool list asked for, if one is under way (bounded by
        the server's timeout_s)."""
        while (task := self._relisting) is not None and not task.done():
            await asyncio.wait([task])

    async def _relist(self, earlier: asyncio.Task[None] | None) -> None:
        if earlier is not None:
            await asyncio.wait([earlier])  # listings land in the order they were asked for
        with contextlib.suppress(Exception):  # a failed re-listing keeps the last one
            # As long as starting may take: the session waits for it before its next step.
            listing = _list(self._session)
            self.definitions = await asyncio.wait_for(listing, self.config.timeout_s)
            for callback in self.on_tools_changed:
                callback()

    def _fail(self, reason: str) -> None:
        self.state = "failed"
        said = self.process.stderr_tail().splitlines() if self.process else []
        reason = f"{reason}; it said: {said[-1]}" if said else reason
        # The server's own words are shown on screen: never its escape sequences.
        self.reason = clipped(visible_controls(reason, keep=""), 300)


async def _list(session: Any) -> list[ToolDefinition]:
    """Every tool the server offers, following its pages; ToolFailure for a listing no
    session could use: endless, too long, or naming a tool that cannot be shown."""
    definitions: list[ToolDefinition] = []
    cursor = None
    for _ in range(MAX_PAGES):
        from mcp_types import PaginatedRequestParams

        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        listed = await session.list_tools(params=params)
        definitions += [_definition(tool) for tool in listed.tools]
        if len(definitions) > MAX_TOOLS:
            raise ToolFailure(f"it lists more than {MAX_TOOLS} tools")
        cursor = listed.next_cursor
        if not cursor:
            return definitions
    raise ToolFailure(f"its tool list goes on past {MAX_PAGES} pages")


def _definition(tool: Any) -> ToolDefinition:
    """A listed tool as the model would be told it; ToolFailure for one that cannot be."""
    if not tool.name.isprintable():
        # It is shown to the person and named in rules and sentences: an escape sequence in
        # it would act on their terminal.
        raise ToolFailure(f"it names a tool {tool.name!r} that holds control characters")
    definition = ToolDefinition(tool.name, tool.description or "", dict(tool.input_schema or {}))
    if definition.size > MAX_DEFINITION_CHARS:
        raise ToolFailure(
            f"it describes the tool {clipped(tool.name, 60)!r} in more than "
            f"{MAX_DEFINITION_CHARS:,} characters"
        )
    return definition


def _words(exc: BaseException) -> str:
    """An exception, or the first of a group, as a short phrase."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return clipped(text, 200)
