"""A client for Anthropic's Messages API, streamed over SSE.

The API wants strictly alternating user/assistant turns, tool calls as `tool_use` blocks and
their results as `tool_result` blocks inside a user turn; the neutral history is reshaped here.
The system prompt and the newest turn carry cache breakpoints so that an agent loop, which
resends a growing prefix every step, pays cache-read prices for it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from nanotui.config import ProviderConfig, default_base_url
from nanotui.protocol.model_io import (
    CUT_OFF_KINDS,
    ChatRequest,
    Message,
    ProviderError,
    StreamDone,
    StreamItem,
    TextPiece,
    ToolCall,
    ToolCallPiece,
    Usage,
    UsagePiece,
)
from nanotui.providers.http_errors import (
    RequestInfo,
    bad_response,
    build_timeout,
    ended_early,
    endpoint_host,
    error_from_stream,
    error_from_transport,
    key_env_name,
    open_event_stream,
)
from nanotui.providers.stream_guard import StreamGuard, reply_tokens

API_VERSION = "2023-06-01"
CACHE_BREAKPOINT = {"type": "ephemeral"}
STOP_REASONS = {"tool_use": "tool_calls", "max_tokens": "max_tokens"}
# Anthropic's error types, mapped to the status they come with so one classifier serves both.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")


class AnthropicProvider:
    """Streams replies from Anthropic's Messages API."""

    kind = "anthropic"
    is_demo = False

    def __init__(
        self,
        config: ProviderConfig,
        api_key: str | None,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not config.model:
            raise ProviderError(
                "No model is configured for the Anthropic provider; set provider.model or "
                "pass --model.",
                kind="bad_request",
            )
        self.config = config
        self.model: str = config.model
        base = (config.base_url or default_base_url("anthropic")).rstrip("/")
        # Accept ".../v1" too, which people copy from the API reference.
        self.base_url = base.removesuffix("/v1")
        self.label = f"{self.model} @ {endpoint_host(self.base_url)}"
        self._api_key = api_key
        self._timeout = build_timeout(config)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self._timeout)
        self._info = RequestInfo(
            base_url=self.base_url,
            url=f"{self.base_url}/v1/messages",
            model=self.model,
            key_env=key_env_name(config),
            key_sent=bool(api_key),
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._own_client:
            await self._client.aclose()

    def headers(self) -> dict[str, str]:
        """The request headers: the key (when there is one) and the API version."""
        headers = {"anthropic-version": API_VERSION, "User-Agent": "nanotui"}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a streaming Messages API request."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens(request),
            "stream": True,
            "messages": wire_messages(request.messages),
        }
        if request.system:
            body["system"] = [
                {"type": "text", "text": request.system, "cache_control": CACHE_BREAKPOINT}
            ]
        temperature = request.temperature
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            if not request.system:
                body["tools"][-1]["cache_control"] = CACHE_BREAKPOINT
        return body

    def max_tokens(self, request: ChatRequest) -> int:
        """The reply length asked for (and, with a margin, enforced while it streams)."""
        return reply_tokens(request, self.config)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Send the request and yield text as it arrives, each tool call once complete, usage
        and done."""
        guard = StreamGuard.for_request(self._info.host, request, self.config)
        reply = _ReplyState(guard=guard)
        try:
            async with open_event_stream(
                self._client,
                self._info,
                headers=self.headers(),
                body=self.request_body(request),
                timeout=self._timeout,
                guard=guard,
            ) as events:
                async for event in events:
                    if not event.data.strip():
                        continue
                    for item in self._handle_event(event.event, event.data, reply):
                        yield item
                    if reply.finished:
                        break
        except httpx.HTTPError as exc:
            # After message_delta carried the stop reason only message_stop can be lost.
            if reply.stop_reason is None:
                raise error_from_transport(exc, self._info, reply.text, guard.progress) from exc
        except ProviderError as error:
            if error.kind in CUT_OFF_KINDS:
                error.partial_text = reply.text
            raise
        if reply.stop_reason is None and not reply.finished:
            raise ended_early(self._info, reply.text, guard.progress)
        for index in sorted(reply.tools):  # blocks whose content_block_stop never came
            yield _finished_call(reply.tools.pop(index))
        yield UsagePiece(reply.usage())
        yield StreamDone(STOP_REASONS.get(reply.stop_reason or "", "end"))

    def _handle_event(self, name: str, data: str, reply: _ReplyState) -> list[StreamItem]:
        try:
            payload = json.loads(data)
        except ValueError:
            raise bad_response(self._info, "an event that is not JSON", reply.text) from None
        kind = payload.get("type", name) if isinstance(payload, dict) else name
        if kind == "error":
            raise self._stream_error(payload.get("error") or {}, reply)
        if kind == "message_start":
            reply.take_usage((payload.get("message") or {}).get("usage") or {})
        elif kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                reply.tools[payload.get("index", 0)] = _PendingCall(
                    id=block.get("id") or f"toolu_{uuid.uuid4().hex[:16]}",
                    name=block.get("name") or "",
                )
                reply.guard.call_started(block.get("name") or "")
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                reply.guard.text(len(delta["text"]))  # first: a piece past a limit is not shown
                reply.text += delta["text"]
                return [TextPiece(delta["text"])]
            if delta.get("type") == "input_json_delta":
                fragment = delta.get("partial_json") or ""
                reply.guard.call_arguments(len(fragment))
                pending = reply.tools.get(payload.get("index", 0))
                if pending is not None:
                    pending.arguments.append(fragment)
            else:
                # Thinking, signatures and whatever comes next are output that is paid for.
                reply.guard.reasoning(
                    sum(len(v) for k, v in delta.items() if k != "type" and isinstance(v, str))
                )
        elif kind == "content_block_stop":
            pending = reply.tools.pop(payload.get("index", 0), None)
            if pending is not None:
                return [_finished_call(pending)]
        elif kind == "message_delta":
            reply.stop_reason = (payload.get("delta") or {}).get("stop_reason") or "end_turn"
            reply.take_usage(payload.get("usage") or {})
        elif kind == "message_stop":
            reply.finished = True
        # ping, thinking blocks and anything newer carry nothing we show
        return []

    def _stream_error(self, error: dict[str, Any], reply: _ReplyState) -> ProviderError:
        status = ERROR_STATUS.get(error.get("type") or "", 500)
        return error_from_stream(error, self._info, reply.text, status=status)


def wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral history to Anthropic turns: blocks, tool results in user turns, alternation."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        # The API wants tool results first in their user turn, before any text.
        turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    if turns:
        turns[-1]["content"][-1]["cache_control"] = CACHE_BREAKPOINT
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": _safe_id(message.tool_call_id or ""),
            "content": message.content or "(no output)",
        }
        if message.is_error:
            block["is_error"] = True
        return [block]
    blocks: list[dict[str, Any]] = []
    if message.content.strip():
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": _safe_id(call.id),
                "name": call.name,
                "input": _parsed_input(call.arguments),
            }
        )
    return blocks


def _parsed_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    # The API insists on an object; keep what the model wrote so it can see its mistake.
    return {"unparsed_arguments": arguments}


def _safe_id(call_id: str) -> str:
    """Ids from other providers may hold characters the API rejects in tool_use ids."""
    return _UNSAFE_ID.sub("_", call_id) or "call"


def _finished_call(pending: _PendingCall) -> ToolCallPiece:
    arguments = "".join(pending.arguments).strip() or "{}"
    return ToolCallPiece(ToolCall(id=pending.id, name=pending.name, arguments=arguments))


@dataclass
class _PendingCall:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass
class _ReplyState:
    guard: StreamGuard
    text: str = ""
    tools: dict[int, _PendingCall] = field(default_factory=dict)
    raw_usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    finished: bool = False

    def take_usage(self, usage: dict[str, Any]) -> None:
        # message_delta repeats or updates counts cumulatively, so the latest value wins.
        for key, value in usage.items():
            if isinstance(value, int):
                self.raw_usage[key] = value
        usage = self.usage()
        self.guard.reported(
            usage.input_tokens, usage.output_tokens, finished=self.stop_reason is not None
        )

    def usage(self) -> Usage:
        read = self.raw_usage.get("cache_read_input_tokens", 0)
        write = self.raw_usage.get("cache_creation_input_tokens", 0)
        return Usage(
            input_tokens=self.raw_usage.get("input_tokens", 0) + read + write,
            cached_input_tokens=read,
            cache_write_tokens=write,
            output_tokens=self.raw_usage.get("output_tokens", 0),
        )
