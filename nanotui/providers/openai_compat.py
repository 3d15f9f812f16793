"""A client for any OpenAI-compatible chat completions endpoint, streamed over SSE.

One code path serves Ollama, LM Studio, llama.cpp's server, vLLM, OpenRouter and OpenAI: they
differ only in base_url and in small liberties with the stream (ids repeated or missing, usage
in an extra chunk or none, reasoning fields, errors sent inside the stream), all tolerated here.
"""

from __future__ import annotations

import json
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

USER_AGENT = "nanotui"
STOP_REASONS = {"tool_calls": "tool_calls", "function_call": "tool_calls", "length": "max_tokens"}
# Where servers put a reasoning model's thinking; it is output the reply pays for.
REASONING_FIELDS = ("reasoning_content", "reasoning", "refusal")


class OpenAICompatProvider:
    """Streams chat completions from an OpenAI-compatible server."""

    kind = "openai-compatible"
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
                "No model is configured for the OpenAI-compatible provider; set provider.model "
                "or pass --model.",
                kind="bad_request",
            )
        self.config = config
        self.model: str = config.model
        self.base_url = (config.base_url or default_base_url(config.kind)).rstrip("/")
        self.label = f"{self.model} @ {endpoint_host(self.base_url)}"
        self._api_key = api_key
        self._timeout = build_timeout(config)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self._timeout)
        url = self.base_url
        if not url.endswith("/chat/completions"):
            url += "/chat/completions"
        self._info = RequestInfo(
            base_url=self.base_url,
            url=url,
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
        """The request headers: a bearer key only when there is one, attribution for OpenRouter."""
        headers = {"User-Agent": USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if "openrouter.ai" in self.base_url.lower():
            headers["X-Title"] = "nanotui"  # OpenRouter attributes requests by this title
        return headers

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a streaming chat completions request."""
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend(_wire_message(message) for message in request.messages)
        max_tokens = self.max_tokens(request)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        # OpenAI's reasoning models refuse max_tokens; every other server still wants it.
        if "api.openai.com" in self.base_url.lower():
            body["max_completion_tokens"] = max_tokens
        else:
            body["max_tokens"] = max_tokens
        temperature = request.temperature
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
        return body

    def max_tokens(self, request: ChatRequest) -> int:
        """The reply length asked for (and, with a margin, enforced while it streams)."""
        return reply_tokens(request, self.config)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Send the request and yield text as it arrives, then tool calls, usage and done."""
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
                    data = event.data.strip()
                    if not data:
                        continue
                    if data == "[DONE]":
                        reply.done = True
                        break
                    for item in self._handle_chunk(data, reply):
                        yield item
        except httpx.HTTPError as exc:
            # A reply whose finish_reason arrived is complete; only the usage chunk was lost.
            if reply.finish_reason is None:
                raise error_from_transport(exc, self._info, reply.text, guard.progress) from exc
        except ProviderError as error:
            if error.kind in CUT_OFF_KINDS:
                error.partial_text = reply.text
            raise
        if reply.finish_reason is None and not reply.done:
            raise ended_early(self._info, reply.text, guard.progress)
        for item in reply.flush_calls():
            yield item
        if reply.usage is not None:
            yield UsagePiece(reply.usage)
        yield StreamDone(reply.stop_reason())

    def _handle_chunk(self, data: str, reply: _ReplyState) -> list[StreamItem]:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise bad_response(self._info, "an event that is not JSON", reply.text) from None
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error"):
            raise error_from_stream(chunk["error"], self._info, reply.text)
        items: list[StreamItem] = []
        choices = chunk.get("choices") or []
        if isinstance(chunk.get("usage"), dict):
            reply.usage = _usage(chunk["usage"])
            reply.guard.reported(
                reply.usage.input_tokens,
                reply.usage.output_tokens,
                # Some servers send the usage in the chunk that finishes the reply.
                finished=reply.finish_reason is not None
                or any(isinstance(c, dict) and c.get("finish_reason") for c in choices),
            )
        for choice in choices[:1]:  # we never ask for n > 1
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                reply.guard.text(len(content))  # first: a piece past a limit is not shown
                reply.text += content
                items.append(TextPiece(content))
            for name in REASONING_FIELDS:
                if isinstance(thought := delta.get(name), str):
                    reply.guard.reasoning(len(thought))
            for call in delta.get("tool_calls") or []:
                reply.add_call_fragment(call)
            finish = choice.get("finish_reason")
            if finish == "error":
                raise error_from_stream(
                    chunk.get("error") or "the model stopped with an error",
                    self._info,
                    reply.text,
                )
            if finish:
                reply.finish_reason = finish
                items.extend(reply.flush_calls())
        return items


def _wire_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            # null is what the spec allows next to tool_calls; "" trips some chat templates.
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _usage(raw: dict[str, Any]) -> Usage:
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        cached_input_tokens=int(cached),
        cache_write_tokens=int(prompt_details.get("cache_write_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


@dataclass
class _PendingCall:
    id: str
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _ReplyState:
    """What has streamed so far: text (for interruptions), calls being assembled, usage."""

    guard: StreamGuard
    text: str = ""
    calls: dict[int, _PendingCall] = field(default_factory=dict)
    emitted_calls: int = 0
    used_ids: set[str] = field(default_factory=set)
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False

    def add_call_fragment(self, fragment: dict[str, Any]) -> None:
        function = fragment.get("function") or {}
        call_id = fragment.get("id") or None
        index = fragment.get("index")
        if not isinstance(index, int):
            # Some servers leave out the index: a new id or name starts a new call.
            known = next((i for i, c in self.calls.items() if call_id and c.id == call_id), None)
            if known is not None:
                index = known
            elif call_id or function.get("name") or not self.calls:
                index = max(self.calls, default=-1) + 1
            else:
                index = max(self.calls)
        pending = self.calls.get(index)
        if pending is None:
            if not call_id or call_id in self.used_ids:
                call_id = f"call_{uuid.uuid4().hex[:16]}"
            self.used_ids.add(call_id)
            pending = self.calls[index] = _PendingCall(id=call_id)
            self.guard.call_started("")
        name = function.get("name")
        if isinstance(name, str) and name and not pending.name:
            pending.name = name
            self.guard.call_named(name)
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a few servers send the parsed object
            arguments = json.dumps(arguments)
        if isinstance(arguments, str):
            pending.arguments.append(arguments)
            self.guard.call_arguments(len(arguments))

    def flush_calls(self) -> list[StreamItem]:
        items: list[StreamItem] = []
        for index in sorted(self.calls):
            pending = self.calls[index]
            arguments = "".join(pending.arguments).strip() or "{}"
            items.append(
                ToolCallPiece(ToolCall(id=pending.id, name=pending.name, arguments=arguments))
            )
        self.emitted_calls += len(items)
        self.calls.clear()
        return items

    def stop_reason(self) -> str:
        reason = STOP_REASONS.get(self.finish_reason or "", "end")
        # Some servers say "stop" even when the reply is a tool call.
        if reason == "end" and self.emitted_calls:
            return "tool_calls"
        return reason
