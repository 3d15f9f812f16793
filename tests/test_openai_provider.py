"""The OpenAI-compatible client against a real loopback server speaking real SSE."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fake_model_server import (
    FakeModelServer,
    cut_reply,
    error_reply,
    openai_raw_tool_call_reply,
    openai_reply,
    sse_reply,
    stalled_reply,
)
from hang_guard import guarded

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
from nanotui.providers.base import Provider
from nanotui.providers.openai_compat import OpenAICompatProvider

MODEL = "qwen2.5-coder:14b"
READ_FILE = ToolSpec(
    name="read_file",
    description="Read a file of the workspace.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)


def make_provider(
    base_url: str, api_key: str | None = None, **overrides: Any
) -> OpenAICompatProvider:
    settings: dict[str, Any] = {"connect_timeout_s": 2, "read_timeout_s": 5, **overrides}
    config = ProviderConfig(kind="openai-compatible", base_url=base_url, model=MODEL, **settings)
    return OpenAICompatProvider(config, api_key)


@pytest.fixture
async def provider(fake_server: FakeModelServer) -> AsyncIterator[OpenAICompatProvider]:
    client = make_provider(fake_server.openai_base_url)
    yield client
    await client.aclose()


async def collect(provider: Provider, request: ChatRequest | None = None) -> list[StreamItem]:
    request = request or ChatRequest(messages=[Message(role="user", content="hi")])
    return [item async for item in provider.stream(request)]


def texts(items: list[StreamItem]) -> list[str]:
    return [item.text for item in items if isinstance(item, TextPiece)]


def calls(items: list[StreamItem]) -> list[ToolCall]:
    return [item.call for item in items if isinstance(item, ToolCallPiece)]


async def test_text_streams_in_order_then_usage_then_done(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(openai_reply(text="Hello there, world!", chunk_size=4))

    items = await collect(provider)

    assert texts(items) == ["Hell", "o th", "ere,", " wor", "ld!"]
    assert isinstance(items[-2], UsagePiece)
    assert items[-1] == StreamDone("end")
    assert provider.label == f"{MODEL} @ 127.0.0.1:{fake_server.port}"


async def test_several_tool_calls_with_arguments_split_over_many_chunks(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    first = {"path": "src/app.py", "start": 10, "end": 40}
    second = {"pattern": "def main", "glob": "**/*.py"}
    fake_server.enqueue(
        openai_reply(
            text="Looking.", tool_calls=[("read_file", first), ("grep", second)], arg_chunk_size=3
        )
    )

    items = await collect(provider)

    found = calls(items)
    assert [(c.id, c.name) for c in found] == [("call_1", "read_file"), ("call_2", "grep")]
    assert [json.loads(c.arguments) for c in found] == [first, second]
    assert "".join(texts(items)) == "Looking."
    assert items[-1] == StreamDone("tool_calls")


async def test_usage_counts_cached_and_reasoning_tokens(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    usage = dict(prompt=1200, completion=300, cached=1000, reasoning=120)
    fake_server.enqueue(openai_reply(text="ok", usage=usage))

    items = await collect(provider)

    [piece] = [item for item in items if isinstance(item, UsagePiece)]
    # OpenAI's prompt_tokens already include the cached ones: no double counting.
    assert piece.usage == Usage(
        input_tokens=1200, cached_input_tokens=1000, output_tokens=300, reasoning_tokens=120
    )


async def test_request_body_is_what_the_chat_completions_api_expects(
    fake_server: FakeModelServer,
) -> None:
    provider = make_provider(fake_server.openai_base_url, api_key="sk-test", temperature=0.2)
    fake_server.enqueue(openai_reply(text="done"))
    history = [
        Message(role="user", content="Fix the bug."),
        Message(
            role="assistant",
            content="",
            tool_calls=[ToolCall(id="call_9", name="read_file", arguments='{"path": "a.py"}')],
        ),
        Message(role="tool", tool_call_id="call_9", tool_name="read_file", content="x = 1"),
    ]
    request = ChatRequest(system="You are careful.", messages=history, tools=[READ_FILE])

    await collect(provider, request)
    await provider.aclose()

    [seen] = fake_server.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    body = seen.body
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 8192
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "You are careful."},
        {"role": "user", "content": "Fix the bug."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "x = 1"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file of the workspace.",
                "parameters": READ_FILE.parameters,
            },
        }
    ]


async def test_no_key_means_no_authorization_header_and_no_empty_tools(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(openai_reply(text="hi"))

    await collect(provider)

    [seen] = fake_server.requests
    assert "authorization" not in seen.headers
    assert "tools" not in seen.body
    assert seen.body["messages"] == [{"role": "user", "content": "hi"}]


def test_openrouter_gets_attribution_headers_and_openai_gets_max_completion_tokens() -> None:
    router = make_provider("https://openrouter.ai/api/v1", api_key="k")
    assert router.headers()["X-Title"] == "nanotui"
    assert "X-Title" not in make_provider("http://localhost:11434/v1").headers()
    body = make_provider("https://api.openai.com/v1", api_key="k").request_body(ChatRequest())
    assert "max_tokens" not in body and body["max_completion_tokens"] == 8192


async def test_tolerates_reasoning_fields_null_content_empty_choices_and_missing_ids(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    fake_server.enqueue(
        sse_reply(
            chunk({"role": "assistant", "content": None, "reasoning_content": "hmm"}),
            chunk({"reasoning": "thinking harder", "content": None}),
            {"choices": []},
            chunk({"content": "Sure."}),
            # no id at all, then the same id given to two different calls
            chunk({"tool_calls": [{"index": 0, "function": {"name": "ls", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"path": "."}'}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "dup", "function": {"name": "a"}}]}),
            chunk({"tool_calls": [{"index": 2, "id": "dup", "function": {"name": "b"}}]}),
            chunk({}, "stop"),  # some servers say "stop" after tool calls
            {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
            "[DONE]",
        )
    )

    items = await collect(provider)

    assert texts(items) == ["Sure."]
    found = calls(items)
    assert [c.name for c in found] == ["ls", "a", "b"]
    assert found[0].id and found[0].arguments == '{"path": "."}'
    assert len({c.id for c in found}) == 3
    assert found[1].arguments == "{}"
    assert items[-2] == UsagePiece(Usage(input_tokens=7, output_tokens=3))
    assert items[-1] == StreamDone("tool_calls")


async def test_malformed_tool_arguments_are_passed_on_raw(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(openai_raw_tool_call_reply("read_file", '{"path": '))

    [call] = calls(await collect(provider))

    assert call.name == "read_file" and call.arguments == '{"path":'


async def test_length_finish_reason_is_max_tokens(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(openai_reply(text="cut sho", finish_reason="length"))

    items = await collect(provider)

    assert items[-1] == StreamDone("max_tokens")


async def test_error_inside_the_stream_becomes_a_provider_error(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    overloaded = {"error": {"code": 502, "message": "Upstream provider overloaded"}}
    fake_server.enqueue(
        sse_reply(overloaded),
        sse_reply({"choices": [{"index": 0, "delta": {"content": "Half an"}}]}, overloaded),
    )

    with pytest.raises(ProviderError) as before_text:
        await collect(provider)
    with pytest.raises(ProviderError) as after_text:
        await collect(provider)

    assert before_text.value.kind == "server" and before_text.value.retryable
    assert "Upstream provider overloaded" in str(before_text.value)
    assert after_text.value.kind == "interrupted"
    assert after_text.value.partial_text == "Half an"


async def test_401_says_which_key_to_set(fake_server: FakeModelServer) -> None:
    provider = make_provider(fake_server.openai_base_url, api_key="bad", api_key_env="MY_KEY")
    fake_server.enqueue(
        error_reply(401, {"error": {"message": "Incorrect API key", "code": "invalid_api_key"}})
    )

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert caught.value.kind == "auth" and caught.value.status == 401
    assert "MY_KEY" in str(caught.value) and "key" in str(caught.value)
    assert not caught.value.retryable


async def test_404_names_the_model_and_the_endpoint(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(error_reply(404, {"error": f'model "{MODEL}" not found, try pulling it'}))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    message = str(caught.value)
    assert caught.value.kind == "not_found"
    assert MODEL in message
    assert f"{fake_server.openai_base_url}/chat/completions" in message


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": {"message": "x", "code": "context_length_exceeded"}}, "context_length"),
        (
            400,
            {"object": "error", "message": "This model's maximum context length is 32768 tokens"},
            "context_length",
        ),
        (
            400,
            {"error": {"message": "registry.ollama.ai/library/gemma:2b does not support tools"}},
            "tools_unsupported",
        ),
        (400, {"error": {"message": "temperature must be at most 2"}}, "bad_request"),
        (
            429,
            {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}},
            "quota",
        ),
        (503, "Service Unavailable", "server"),
    ],
)
async def test_http_errors_are_classified(
    fake_server: FakeModelServer,
    provider: OpenAICompatProvider,
    status: int,
    body: dict[str, Any] | str,
    kind: str,
) -> None:
    fake_server.enqueue(error_reply(status, body))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    assert caught.value.kind == kind
    assert caught.value.status == status
    if kind == "bad_request":
        assert "temperature must be at most 2" in str(caught.value)


async def test_connection_refused_says_the_server_is_not_reachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    provider = make_provider(base_url)

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert caught.value.kind == "connection" and caught.value.retryable
    assert str(caught.value) == f"Cannot reach the model server at {base_url}; is it running?"


async def test_stream_cut_after_text_is_interrupted_with_the_partial_text(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    # events: role chunk, "abcd", "efgh", ... -> cut after three events
    fake_server.enqueue(cut_reply(openai_reply(text="abcdefghijkl"), after_events=3))
    seen: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for item in provider.stream(ChatRequest()):
            if isinstance(item, TextPiece):
                seen.append(item.text)

    assert caught.value.kind == "interrupted"
    assert caught.value.partial_text == "abcdefgh" == "".join(seen)
    assert not caught.value.retryable


async def test_stream_cut_before_any_text_is_a_retryable_connection_error(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(cut_reply(openai_reply(text="abcdefgh"), after_events=1))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)

    assert caught.value.kind == "connection" and caught.value.retryable


async def test_idle_read_timeout_is_a_timeout(fake_server: FakeModelServer) -> None:
    provider = make_provider(fake_server.openai_base_url, read_timeout_s=0.3)
    fake_server.enqueue(stalled_reply(openai_reply(text="late"), after_events=1, stall_s=600))

    with pytest.raises(ProviderError) as caught:
        await guarded(collect(provider))  # the server is silent for ten minutes
    await provider.aclose()

    assert caught.value.kind == "timeout"
    assert "0.3 s" in str(caught.value)


async def test_cancelling_the_consumer_closes_the_connection(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(stalled_reply(openai_reply(text="first words"), after_events=2, stall_s=10))
    first_text = asyncio.Event()

    async def consume() -> None:
        async for item in provider.stream(ChatRequest()):
            if isinstance(item, TextPiece):
                first_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [seen] = fake_server.requests
    gone = await asyncio.to_thread(seen.client_gone.wait, 10)
    assert gone, "the server never saw the client hang up"


async def test_closing_the_stream_early_closes_the_connection(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(stalled_reply(openai_reply(text="first words"), after_events=2, stall_s=10))

    stream = provider.stream(ChatRequest())
    async for item in stream:
        if isinstance(item, TextPiece):
            break
    await stream.aclose()  # type: ignore[attr-defined]

    [seen] = fake_server.requests
    assert await asyncio.to_thread(seen.client_gone.wait, 2)


async def test_a_stream_that_ends_without_finishing_is_not_taken_as_complete(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    role = {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    text = {"choices": [{"index": 0, "delta": {"content": "Partial"}}]}
    fake_server.enqueue(sse_reply(role), sse_reply(role, text))

    with pytest.raises(ProviderError) as nothing_yet:
        await collect(provider)
    with pytest.raises(ProviderError) as some_text:
        await collect(provider)

    assert nothing_yet.value.kind == "connection" and nothing_yet.value.retryable
    assert some_text.value.kind == "interrupted" and some_text.value.partial_text == "Partial"


async def test_finish_reason_without_done_marker_is_complete(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    text = {"choices": [{"index": 0, "delta": {"content": "All"}, "finish_reason": "stop"}]}
    fake_server.enqueue(sse_reply(text))

    assert await collect(provider) == [TextPiece("All"), StreamDone("end")]


async def test_credentials_in_the_base_url_are_never_shown() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = make_provider(f"http://user:s3cret@127.0.0.1:{port}/v1?token=s3cret")

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert "s3cret" not in provider.label and "s3cret" not in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)
