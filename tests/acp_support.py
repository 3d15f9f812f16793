"""A scripted ACP client (an editor stand-in) driving a real `nanotui acp` process over pipes.

The process runs in a process group of its own and is killed with it when the test module
ends; every wait on it is bounded, so a hung agent fails a test instead of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp import RequestError, connect_to_agent
from acp.schema import (
    AllowedOutcome,
    DeniedOutcome,
    RequestPermissionResponse,
)

WAIT_S = 30
"""The longest any one exchange with the agent may take (a loaded CI machine included)."""


@dataclass
class ScriptedEditor:
    """The client side: records what the agent says, answers permission requests as told.

    Each answer is an option id to pick, "cancelled", or "error" (a JSON-RPC error reply)."""

    answers: deque[str] = field(default_factory=deque)
    updates: list[Any] = field(default_factory=list)
    permission_requests: list[Any] = field(default_factory=list)
    chunk_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **_: Any
    ) -> RequestPermissionResponse:
        self.permission_requests.append((tool_call, options))
        answer = self.answers.popleft()
        if answer == "error":
            raise RequestError(-32603, "the editor's dialog broke")
        if answer == "cancelled":
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=answer)
        )

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        self.updates.append(update)
        if update.session_update == "agent_message_chunk":
            self.chunk_arrived.set()

    def on_connect(self, conn: Any) -> None:
        pass

    def take_updates(self) -> list[Any]:
        """The updates since the last call, and forget them."""
        taken, self.updates = self.updates, []
        return taken


def message_text(updates: list[Any]) -> str:
    return "".join(u.content.text for u in updates if u.session_update == "agent_message_chunk")


def tool_updates(updates: list[Any], call_id: str) -> list[Any]:
    """The updates of the model's call `call_id` (the editor's id ends with it)."""
    return [u for u in updates if getattr(u, "tool_call_id", "").endswith(f"/{call_id}")]


def agent_environment(home: Path) -> dict[str, str]:
    env = {**os.environ, "NANOTUI_HOME": str(home)}
    for name in ("NANOTUI_PROVIDER", "NANOTUI_MODEL", "NANOTUI_BASE_URL", "NANOTUI_API_KEY"):
        env.pop(name, None)
    return env


@contextlib.asynccontextmanager
async def running_agent(
    home: Path, cwd: Path, base_url: str, editor: ScriptedEditor, stderr_path: Path
) -> Any:
    """`nanotui acp` against the model at `base_url`, and the client connection to it."""
    command = [sys.executable, "-m", "nanotui.cli.main", "acp", "--base-url", base_url]
    command += ["--model", "test-model"]
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            cwd=cwd,
            env=agent_environment(home),
            start_new_session=True,
        )
    assert process.stdin is not None and process.stdout is not None
    connection = connect_to_agent(editor, process.stdin, process.stdout)
    try:
        yield connection, process
    finally:
        # Closing its stdin ends the agent (its sessions and logs closed); the kill is for
        # one that hangs.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), WAIT_S)
            process.stdin.close()  # the connection leaves it open
            await asyncio.wait_for(process.wait(), WAIT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
