"""Tool calling for models that cannot do it natively: tools described in the prompt.

The model is told to write `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`; the
stream is scanned as it arrives, text outside the tags passes through, and each tag becomes a
ToolCallPiece. Anything that could be the start of a tag is held back until it is known not
to be, so a tag never flashes on the screen, however the server splits it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from nanotui.protocol.model_io import (
    ChatRequest,
    Message,
    ProviderError,
    StreamDone,
    StreamItem,
    TextPiece,
    ToolCall,
    ToolCallPiece,
    ToolSpec,
)
from nanotui.providers.base import Provider

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')

PROMPT_HEADER = """\
# Tools

You can use the tools below. To call a tool, write exactly this, with the arguments as a JSON
object that matches the tool's schema:

<tool_call>{"name": "TOOL_NAME", "arguments": {"ARGUMENT": "VALUE"}}</tool_call>

You may write several tool calls in one reply. After your calls, stop and wait: the results
come back in the next message as <tool_result name="TOOL_NAME" id="CALL_ID">...</tool_result>.
Never write a tool result yourself.
"""


def tools_prompt(tools: list[ToolSpec]) -> str:
    """The system prompt section that describes the tools and the call format."""
    sections = [PROMPT_HEADER]
    for tool in tools:
        schema = json.dumps(tool.parameters, separators=(", ", ": "))
        sections.append(f"## {tool.name}\n\n{tool.description}\n\nArguments schema: {schema}\n")
    return "\n".join(sections)


def text_request(request: ChatRequest) -> ChatRequest:
    """The request with tools moved into the system prompt and tool history turned to text."""
    system = request.system
    if request.tools:
        system = (
            f"{system}\n\n{tools_prompt(request.tools)}" if system else tools_prompt(request.tools)
        )
    messages: list[Message] = []
    for message in request.messages:
        converted = _as_text(message)
        if messages and messages[-1].role == converted.role:
            # Many local chat templates insist on strict user/assistant alternation.
            merged = f"{messages[-1].content}\n\n{converted.content}".strip()
            messages[-1] = Message(role=converted.role, content=merged)
        else:
            messages.append(converted)
    return request.model_copy(update={"system": system, "messages": messages, "tools": []})


def _as_text(message: Message) -> Message:
    if message.role == "tool":
        body = message.content
        if message.is_error:
            body = f"ERROR: {body}"
        return Message(
            role="user",
            content=f'<tool_result name="{message.tool_name or ""}" '
            f'id="{message.tool_call_id or ""}">\n{body}\n</tool_result>',
        )
    if message.role == "assistant" and message.tool_calls:
        parts = [message.content] if message.content else []
        for call in message.tool_calls:
            try:
                arguments: Any = json.loads(call.arguments or "{}")
            except ValueError:
                arguments = call.arguments
            parts.append(
                f"{OPEN_TAG}{json.dumps({'name': call.name, 'arguments': arguments})}{CLOSE_TAG}"
            )
        return Message(role="assistant", content="\n".join(parts))
    return Message(role=message.role, content=message.content)


def parse_tool_call(raw: str, call_id: str) -> ToolCall:
    """One tag's content as a ToolCall; unparseable content is kept raw as the arguments."""
    text = _FENCE.sub("", raw.strip()).strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        arguments = data.get("arguments", data.get("parameters", {}))
        if isinstance(arguments, str):
            # Some models double-encode; keep the string if it is not JSON either.
            return ToolCall(id=call_id, name=data["name"], arguments=arguments or "{}")
        return ToolCall(id=call_id, name=data["name"], arguments=json.dumps(arguments))
    found = _NAME.search(text)
    # The engine answers a call whose arguments do not parse with the parse error.
    return ToolCall(id=call_id, name=found.group(1) if found else "unknown", arguments=raw)


class TagScanner:
    """Splits streamed text into plain text and complete `<tool_call>` tag contents."""

    def __init__(self) -> None:
        self._buffer = ""
        self._inside = False

    def feed(self, text: str) -> list[tuple[str, str]]:
        """Feed a fragment; returns ("text", s) and ("call", content) parts ready to emit."""
        self._buffer += text
        parts: list[tuple[str, str]] = []
        while True:
            if self._inside:
                end = self._buffer.find(CLOSE_TAG)
                if end < 0:
                    return parts
                parts.append(("call", self._buffer[:end]))
                self._buffer = self._buffer[end + len(CLOSE_TAG) :]
                self._inside = False
                continue
            start = self._buffer.find(OPEN_TAG)
            if start >= 0:
                if start:
                    parts.append(("text", self._buffer[:start]))
                self._buffer = self._buffer[start + len(OPEN_TAG) :]
                self._inside = True
                continue
            keep = _partial_tag_suffix(self._buffer, OPEN_TAG)
            ready = self._buffer[: len(self._buffer) - keep]
            if ready:
                parts.append(("text", ready))
            self._buffer = self._buffer[len(ready) :]
            return parts

    def finish(self) -> list[tuple[str, str]]:
        """At end of stream: an unclosed tag still counts as a call; held text is released."""
        rest, self._buffer = self._buffer, ""
        if self._inside:
            self._inside = False
            rest = rest[: len(rest) - _partial_tag_suffix(rest, CLOSE_TAG)]
            return [("call", rest)] if rest.strip() else []
        return [("text", rest)] if rest else []


def _partial_tag_suffix(text: str, tag: str) -> int:
    """The length of the longest end of `text` that is a proper start of `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class TextToolCallingProvider:
    """Wraps a provider so that tools are described in the prompt and parsed from the text."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.model = inner.model
        self.label = f"{inner.label} (tools in text)"
        self.is_demo = inner.is_demo
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        """Close the wrapped provider."""
        await self.inner.aclose()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Stream the reply with tool-call tags turned into ToolCallPieces."""
        scanner = TagScanner()
        shown = ""
        found_calls = False
        try:
            async with aclosing(self.inner.stream(text_request(request))) as items:  # type: ignore[type-var]
                async for item in items:
                    if isinstance(item, TextPiece):
                        parts = scanner.feed(item.text)
                    elif isinstance(item, StreamDone):
                        parts = scanner.finish()
                    else:
                        found_calls = found_calls or isinstance(item, ToolCallPiece)
                        yield item
                        continue
                    for kind, content in parts:
                        if kind == "text":
                            shown += content
                            yield TextPiece(content)
                        else:
                            found_calls = True
                            yield ToolCallPiece(parse_tool_call(content, self._next_id()))
                    if isinstance(item, StreamDone):
                        yield StreamDone("tool_calls" if found_calls else item.stop_reason)
        except ProviderError as error:
            if error.kind != "interrupted":
                raise
            if not shown:
                # All that arrived was held back, so nothing was shown: safe to retry.
                raise ProviderError(str(error), kind="connection") from error
            # Only what passed the scanner was shown; held-back tag text was not.
            error.partial_text = shown
            raise

    def _next_id(self) -> str:
        return f"call_text_{next(self._ids)}"


class AutoToolCallingProvider:
    """Native tool calls, until the server says the model has none; then tools in text."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.text = TextToolCallingProvider(inner)
        self.kind = inner.kind
        self.model = inner.model
        self.is_demo = inner.is_demo
        self.using_text_tools = False
        """True once the server refused native tools; stays so for this provider's life."""

    @property
    def label(self) -> str:
        return self.text.label if self.using_text_tools else self.inner.label

    async def aclose(self) -> None:
        """Close the wrapped provider."""
        await self.inner.aclose()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Stream natively; on "tools_unsupported" before any output, switch and retry."""
        if not self.using_text_tools:
            yielded = False
            try:
                async with aclosing(self.inner.stream(request)) as items:  # type: ignore[type-var]
                    async for item in items:
                        yielded = True
                        yield item
                return
            except ProviderError as error:
                if error.kind != "tools_unsupported" or yielded or not request.tools:
                    raise
                self.using_text_tools = True
        async with aclosing(self.text.stream(request)) as items:  # type: ignore[type-var]
            async for item in items:
                yield item
