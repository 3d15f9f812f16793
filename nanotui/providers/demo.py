"""The offline demo model: a scripted, clearly labelled stand-in that needs no model at all.

`nanotui --demo` copies the sample project shipped in this package to a fresh folder and lets
`DemoProvider` walk it: look around, read, tidy one function, run the tests, fix the one bug,
run them again. What it says next is decided by `demo_script.next_reply` from the tool results
in the conversation, so approvals, rejections and refusals change the walk as they would with
a real model. It is never a stand-in for a real provider in tests of real providers.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from nanotui.protocol.model_io import (
    CHARS_PER_TOKEN,
    ChatRequest,
    Message,
    StreamDone,
    StreamItem,
    TextPiece,
    ToolCall,
    ToolCallPiece,
    Usage,
    UsagePiece,
)
from nanotui.providers.demo_script import TEST_COMMAND, DemoReply, next_reply

__all__ = [
    "TEST_COMMAND",
    "DemoProvider",
    "copy_sample_project",
    "is_sample_project",
    "sample_project_path",
]

SAMPLE_MARKER = ".nanotui-sample"
_WORDS_PER_PIECE = 3


def sample_project_path() -> Path:
    """Where the sample project lives inside the installed package."""
    return Path(__file__).resolve().parent.parent / "sample_project"


def demo_workspace(workspace: Path) -> Path:
    """Where the demo works: `workspace` if it is the sample project, else a fresh copy."""
    from nanotui import paths
    from nanotui.protocol.basics import new_session_id

    if is_sample_project(workspace):
        return workspace
    target = paths.demo_projects_dir() / new_session_id()
    copy_sample_project(target)
    return target.resolve()


def demo_copy_notice(
    workspace: Path, target: Path, *, explicit: bool, name_copy: bool = True
) -> str | None:
    """The sentence that says the demo works on a copy (None when it works in `workspace`).

    `name_copy=False` leaves the copy's folder out, for a front end that names it already
    (the app's welcome does): the same path twice in a row reads like two folders.
    """
    if target == workspace:
        return None
    where = f" (not {workspace}, which is not the sample project)" if explicit else ""
    copy = f" in {target}" if name_copy else ""
    return f"offline demo: working on a fresh copy of the sample project{copy}{where}."


def is_sample_project(path: Path) -> bool:
    """Whether `path` is a copy of the sample project (it holds the marker file)."""
    return (Path(path) / SAMPLE_MARKER).is_file()


def copy_sample_project(dest: Path) -> Path:
    """Copy the sample project into `dest`, which must be empty or absent; return `dest`."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(
            f"Cannot copy the sample project into {dest}: it is not an empty folder; "
            "choose a new or empty one."
        )
    shutil.copytree(
        sample_project_path(),
        dest,
        dirs_exist_ok=True,
        # A developer may have run the sample's tests in the source tree.
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"),
    )
    return dest


class DemoProvider:
    """A scripted model that walks the sample project; labelled "offline demo" everywhere."""

    kind = "demo"
    model = "demo"
    label = "offline demo"
    is_demo = True

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        """Pause between text pieces so the reply streams visibly; 0 in tests."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Stream the next scripted reply; every sleep is a point where cancellation lands."""
        offered = {tool.name for tool in request.tools} or None
        reply = next_reply(request.messages, offered)
        for piece in _pieces(reply.text):
            await asyncio.sleep(self.delay_s)
            yield TextPiece(piece)
        step = sum(1 for message in request.messages if message.role == "assistant") + 1
        for index, (name, args) in enumerate(reply.calls, start=1):
            await asyncio.sleep(self.delay_s)
            call = ToolCall(id=f"demo_{step}_{index}", name=name, arguments=json.dumps(args))
            yield ToolCallPiece(call)
        yield UsagePiece(_estimate_usage(request, reply))
        yield StreamDone("tool_calls" if reply.calls else "end")

    async def aclose(self) -> None:
        """Nothing to release: the demo holds no connections."""


def _pieces(text: str) -> list[str]:
    """Split text into runs of a few words, keeping every character (newlines included)."""
    words = re.findall(r"\s*\S+", text)
    pieces = [
        "".join(words[i : i + _WORDS_PER_PIECE]) for i in range(0, len(words), _WORDS_PER_PIECE)
    ]
    return pieces or ([text] if text else [])


def _estimate_usage(request: ChatRequest, reply: DemoReply) -> Usage:
    """Plausible counts at about four characters a token, so meters and budgets move."""
    prompt = len(request.system) + sum(_message_chars(m) for m in request.messages)
    prompt += sum(len(tool.model_dump_json()) for tool in request.tools)
    output = len(reply.text) + sum(len(name) + len(json.dumps(args)) for name, args in reply.calls)
    return Usage(
        input_tokens=max(1, prompt // CHARS_PER_TOKEN),
        output_tokens=max(1, output // CHARS_PER_TOKEN),
    )


def _message_chars(message: Message) -> int:
    return len(message.content) + sum(
        len(call.name) + len(call.arguments) for call in message.tool_calls
    )
