"""Running the ACP agent on this process's stdin and stdout, with stdout the protocol's alone.

Before the first message, the real stdout is set aside for the protocol and file descriptor 1
(and `sys.stdout`) pointed at stderr: a stray print, a library's warning or a child process
that inherits descriptor 1 then lands in the editor's log instead of corrupting the stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from acp import run_agent
from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES

from nanotui.acp.server import NanotuiAgent, SessionOpener
from nanotui.protocol.basics import UserFacingError


def take_stdout() -> int:
    """A descriptor of the real stdout, kept for the protocol; 1 and `sys.stdout` now write to
    stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


async def serve_stdio(open_session: SessionOpener, protocol_fd: int) -> None:
    """Answer the editor on stdin and `protocol_fd` until it closes stdin."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="nanotui acp: %(message)s")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=DEFAULT_STDIO_BUFFER_LIMIT_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(protocol_fd, "wb", buffering=0)
        )
    except ValueError:  # a regular file: asyncio cannot wait on it
        raise UserFacingError(
            "nanotui acp talks to an editor through a pipe, and its stdout is a file here; "
            "let the editor start it (the README's Editors (ACP) section says how)."
        ) from None
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    agent = NanotuiAgent(open_session)
    try:
        await run_agent(agent, writer, reader)
    finally:
        await agent.close()
