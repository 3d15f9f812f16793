"""The MCP stdio transport over a program nanotui started in the sandbox.

The SDK's `stdio_client` spawns its server itself, outside any sandbox; ours is started by
`security.sandbox.long_lived`, so this bridges its pipes to the memory streams the SDK's
`ClientSession` reads and writes: newline-delimited JSON-RPC, one message a line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types
from mcp.shared.message import SessionMessage

from nanotui.security.sandbox.long_lived import LongLivedProcess

MAX_LINE_BYTES = 16 * 1024 * 1024
"""A longer line is no message we will hold in memory: the connection ends."""


class LineTooLong(Exception):
    """The server wrote a line past MAX_LINE_BYTES."""


@asynccontextmanager
async def process_transport(process: LongLivedProcess) -> AsyncIterator[tuple[Any, Any]]:
    """(read stream, write stream) for `ClientSession`, over the process's stdout and stdin."""
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_lines() -> None:
        async with read_writer:
            # The line being read grows in place: a long one is not copied at every chunk.
            unfinished = bytearray()
            while chunk := await process.stdout.read(64 * 1024):
                first, *rest = chunk.split(b"\n")
                unfinished += first
                if rest:
                    lines = [bytes(unfinished), *rest[:-1]]
                    unfinished = bytearray(rest[-1])
                    for line in lines:
                        if line.strip():
                            await read_writer.send(_parse(line))
                if len(unfinished) > MAX_LINE_BYTES:
                    await read_writer.send(LineTooLong("the server wrote a line too long"))
                    return

    async def write_lines() -> None:
        async with write_reader:
            async for message in write_reader:
                text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                process.stdin.write(text.encode() + b"\n")
                await process.stdin.drain()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read_lines)
        tasks.start_soon(write_lines)
        try:
            yield read_stream, write_stream
        finally:
            tasks.cancel_scope.cancel()


def _parse(line: bytes) -> SessionMessage | Exception:
    """One line as a message, or the error the session is told of."""
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc
