"""The Anthropic Messages client against a real loopback server speaking real SSE."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fake_model_server import (
    FakeModelServer,
    anthropic_reply,
    cut_reply,
    error_reply,
    sse_reply,
)

from nanotui.config import ProviderConfig
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
    Usage,
    UsagePiece,
)
from nanotui.providers.anthropic import AnthropicProvider

MODEL = "claude-sonnet-4-5"


def make_provider(base_url: str, api_key: str | None = "sk-ant-test") -> AnthropicProvider:
    config = ProviderConfig(
        kind="anthropic", base_url=base_url, model=MODEL, connect_timeout_s=2, read_timeout_s=5
    )
    return AnthropicProvider(config, api_key)


@pytest.fixture
async def provider(fake_server: FakeModelServer) -> AsyncIterator[AnthropicProvider]:
    client = make_provider(fake_server.anthropic_base_url)
    yield client
    await client.aclose()


async def collect(provider: AnthropicProvider, request: ChatRequest | None = None) -> list[Any]:
    request = request or ChatRequest(messages=[Message(role="user", content="hi")])
    return [item async for item in provider.stream(request)]


def texts(items: list[StreamItem]) -> list[str]:
    return [item.text for item in items if isinstance(item, TextPiece)]


def calls(items: list[StreamItem]) -> list[ToolCall]:
    return [item.call for item in items if isinstance(item, ToolCallPiece)]


async def test_text_streams_in_order_and_ends(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    fake_server.enqueue(anthropic_reply(text="Hello from Claude", chunk_size=5))

    items = await collect(provider)

    assert texts(items) == ["Hello", " from", " Clau", "de"]
    assert items[-1] == StreamDone("end")


async def test_usage_adds_cache_reads_and_writes_into_input(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    usage = dict(input=12, output=340, cache_read=9000, cache_write=1500)
    fake_server.enqueue(anthropic_reply(text="ok", usage=usage))

    items = await collect(provider)

    [piece] = [item for item in items if isinstance(item, UsagePiece)]
    assert piece.usage == Usage(
        input_tokens=12 + 9000 + 1500,
        cached_input_tokens=9000,
        cache_write_tokens=1500,
        output_tokens=340,
    )


async def test_tool_calls_assembled_from_partial_json_and_empty_input_is_an_object(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    edit = {"path": "src/app.py", "old": "x = 1", "new": "x = 2"}
    fake_server.enqueue(
        anthropic_reply(
            text="Editing.",
            tool_calls=[("edit_file", edit), ("list_files", "")],
            arg_chunk_size=3,
        )
    )

    items = await collect(provider)

    found = calls(items)
    assert [(c.id, c.name) for c in found] == [("toolu_1", "edit_file"), ("toolu_2", "list_files")]
    assert json.loads(found[0].arguments) == edit
    assert found[1].arguments == "{}"
    assert "".join(texts(items)) == "Editing."
    assert items[-1] == StreamDone("tool_calls")


async def test_max_tokens_stop_reason(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    fake_server.enqueue(anthropic_reply(text="trunc", stop_reason="max_tokens"))

    assert (await collect(provider))[-1] == StreamDone("max_tokens")


async def test_request_body_is_what_the_messages_api_expects(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    fake_server.enqueue(anthropic_reply(text="done"))
    spec = ToolSpec(
        name="read_file",
        description="Read a file.",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}},
    )
    history = [
        Message(role="user", content="Look at a.py and b.py."),
        Message(
            role="assistant",
            content="Reading both.",
            tool_calls=[
                ToolCall(id="toolu_a", name="read_file", arguments='{"path": "a.py"}'),
                ToolCall(id="call.b:1", name="read_file", arguments=""),
            ],
        ),
        Message(role="tool", tool_call_id="toolu_a", content="A = 1"),
        Message(role="tool", tool_call_id="call.b:1", content="no such file", is_error=True),
        Message(role="user", content="Also check c.py."),
        Message(role="user", content="Thanks."),
    ]

    await collect(provider, ChatRequest(system="Be brief.", messages=history, tools=[spec]))

    [seen] = fake_server.requests
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == "sk-ant-test"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    body = seen.body
    assert body["model"] == MODEL and body["stream"] is True and body["max_tokens"] == 8192
    assert [block["text"] for block in body["system"]] == ["Be brief."]
    assert body["tools"] == [
        {"name": "read_file", "description": "Read a file.", "input_schema": spec.parameters}
    ]
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Reading both."},
        {"type": "tool_use", "id": "toolu_a", "name": "read_file", "input": {"path": "a.py"}},
        {"type": "tool_use", "id": "call_b_1", "name": "read_file", "input": {}},
    ]
    results, *texts_after = messages[2]["content"][:2], messages[2]["content"][2:]
    assert [(b["type"], b["tool_use_id"], b["content"]) for b in results] == [
        ("tool_result", "toolu_a", "A = 1"),
        ("tool_result", "call_b_1", "no such file"),
    ]
    assert "is_error" not in results[0] and results[1]["is_error"] is True
    assert [b["text"] for b in texts_after[0]] == ["Also check c.py.", "Thanks."]
    # the newest block is a cache breakpoint, so the next step reads the prefix from cache
    assert messages[2]["content"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_no_key_sends_no_key_header_and_401_says_which_variable(
    fake_server: FakeModelServer,
) -> None:
    provider = make_provider(fake_server.anthropic_base_url, api_key=None)
    fake_server.enqueue(
        error_reply(
            401,
            {
                "type": "error",
                "error": {
                    "type": "authentication_error",
                    "message": "x-api-key header is required",
                },
            },
        )
    )

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert "x-api-key" not in fake_server.requests[0].headers
    assert caught.value.kind == "auth"
    assert "ANTHROPIC_API_KEY" in str(caught.value)


async def test_429_carries_retry_after(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    fake_server.enqueue(error_reply(429, body, headers={"retry-after": "7"}))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    assert caught.value.kind == "rate_limit" and caught.value.retry_after == 7.0


async def test_prompt_too_long_is_a_context_length_error(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    message = "prompt is too long: 210000 tokens > 200000 maximum"
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    fake_server.enqueue(error_reply(400, body))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    assert caught.value.kind == "context_length"


async def test_error_event_in_the_stream(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 5}}}
    fake_server.enqueue(sse_reply(start, {"type": "ping"}, overloaded, named=True))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    assert caught.value.kind == "server" and caught.value.retryable
    assert "Overloaded" in str(caught.value)


async def test_ignores_thinking_blocks(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    thinking = {"type": "thinking", "thinking": ""}
    fake_server.enqueue(
        sse_reply(
            {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
            {"type": "content_block_start", "index": 0, "content_block": thinking},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "secret"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text"}},
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
            {"type": "content_block_stop", "index": 1},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 9},
            },
            {"type": "message_stop"},
            named=True,
        )
    )

    items = await collect(provider)

    assert texts(items) == ["Hi"]
    assert items[-2] == UsagePiece(Usage(input_tokens=5, output_tokens=9))


async def test_cut_after_text_is_interrupted_with_partial_text(
    fake_server: FakeModelServer, provider: AnthropicProvider
) -> None:
    # message_start, ping, block start, "abcd", "efgh", ... -> cut after five events
    fake_server.enqueue(cut_reply(anthropic_reply(text="abcdefghijkl"), after_events=5))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    assert caught.value.kind == "interrupted"
    assert caught.value.partial_text == "abcdefgh"


def test_base_url_ending_in_v1_is_accepted() -> None:
    provider = make_provider("https://api.anthropic.com/v1")
    assert provider.label == f"{MODEL} @ api.anthropic.com"
    assert provider.request_body(ChatRequest())["messages"] == []
