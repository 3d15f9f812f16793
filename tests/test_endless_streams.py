"""A model stream that never ends is cut off: at the output limit, the budget and the deadline.

Each test plays a real endless SSE stream from the loopback server (bounded by the server
itself: 20 MB or 60 s) against the real OpenAI-compatible and Anthropic clients, and bounds
itself with a timeout so that a client that never stops fails rather than hangs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fake_model_server import (
    FakeModelServer,
    anthropic_reply,
    cut_reply,
    endless_reply,
    openai_reply,
    sse_reply,
)

from nanotui.config import ProviderConfig
from nanotui.protocol.model_io import (
    CHARS_PER_TOKEN,
    ChatRequest,
    Message,
    OutputAllowance,
    ProviderError,
    TextPiece,
)
from nanotui.providers.anthropic import AnthropicProvider
from nanotui.providers.base import Provider
from nanotui.providers.openai_compat import OpenAICompatProvider

LIMIT = 2000
TEST_TIMEOUT_S = 30
APIS = ["openai", "anthropic"]


def make_provider(server: FakeModelServer, api: str, **overrides: Any) -> Provider:
    settings: dict[str, Any] = {
        "connect_timeout_s": 2,
        "read_timeout_s": 5,
        "max_output_tokens": LIMIT,
        "model": "fake-model",
        **overrides,
    }
    if api == "openai":
        config = ProviderConfig(
            kind="openai-compatible", base_url=server.openai_base_url, **settings
        )
        return OpenAICompatProvider(config, None)
    config = ProviderConfig(kind="anthropic", base_url=server.anthropic_base_url, **settings)
    return AnthropicProvider(config, "test-key")


async def stream_until_error(
    provider: Provider, request: ChatRequest | None = None
) -> tuple[ProviderError, str, float]:
    """Consume the reply (within TEST_TIMEOUT_S); the error that ended it, the text, seconds."""
    request = request or ChatRequest(messages=[Message(role="user", content="hi")])
    text: list[str] = []
    started = time.monotonic()

    async def consume() -> None:
        async for item in provider.stream(request):
            if isinstance(item, TextPiece):
                text.append(item.text)

    try:
        with pytest.raises(ProviderError) as caught:
            await asyncio.wait_for(consume(), TEST_TIMEOUT_S)
    finally:
        await provider.aclose()
    return caught.value, "".join(text), time.monotonic() - started


async def hung_up(server: FakeModelServer) -> bool:
    return await asyncio.to_thread(server.requests[-1].client_gone.wait, 5)


@pytest.mark.parametrize("api", APIS)
async def test_endless_text_is_cut_near_max_output_tokens(
    fake_server: FakeModelServer, api: str
) -> None:
    fake_server.enqueue(endless_reply(api))

    error, text, _ = await stream_until_error(make_provider(fake_server, api))

    assert error.kind == "output_limit" and not error.retryable
    assert len(text) < 3 * LIMIT * CHARS_PER_TOKEN
    assert len(text) >= LIMIT * CHARS_PER_TOKEN  # not cut before the limit itself
    assert error.partial_text == text
    assert "past the limit of 2,000 tokens (provider.max_output_tokens)" in str(error)
    assert "the text that had streamed was kept" in str(error)
    assert error.usage is not None and error.usage.output_tokens > LIMIT
    assert await hung_up(fake_server), "the server never saw the client hang up"


@pytest.mark.parametrize("api", APIS)
async def test_endless_tool_call_arguments_are_cut_and_the_call_named(
    fake_server: FakeModelServer, api: str
) -> None:
    fake_server.enqueue(endless_reply(api, piece='"aaaaaaaaaaaaaaaaaaaa', tool="write_file"))

    error, text, _ = await stream_until_error(make_provider(fake_server, api))

    assert error.kind == "output_limit"
    assert text == ""
    assert "its tool call was not run" in str(error)
    assert fake_server.requests[-1].bytes_sent < 20_000_000
    assert await hung_up(fake_server)


@pytest.mark.parametrize("api", APIS)
async def test_endless_stream_is_cut_where_the_budget_ends(
    fake_server: FakeModelServer, api: str
) -> None:
    fake_server.enqueue(endless_reply(api))
    allowance = OutputAllowance(tokens=500, budget="the session budget ($0.19 of $0.20 spent)")
    request = ChatRequest(messages=[Message(role="user", content="hi")], output_allowance=allowance)

    error, text, _ = await stream_until_error(make_provider(fake_server, api), request)

    assert error.kind == "budget" and not error.retryable
    assert len(text) < 3 * 500 * CHARS_PER_TOKEN
    assert "more output would pass the session budget ($0.19 of $0.20 spent)" in str(error)


@pytest.mark.parametrize("api", APIS)
async def test_a_trickling_stream_is_cut_at_the_request_deadline(
    fake_server: FakeModelServer, api: str
) -> None:
    # One piece every 0.1 s: never silent long enough for the read timeout (5 s).
    fake_server.enqueue(endless_reply(api, piece="tick ", interval_s=0.1))
    provider = make_provider(fake_server, api, request_deadline_s=2)

    error, text, seconds = await stream_until_error(provider)

    assert error.kind == "deadline" and not error.retryable
    assert seconds >= 1.9  # not cut before its deadline (the stream itself never ends)
    assert text.startswith("tick tick")
    assert "ran for its whole 2 s (provider.request_deadline_s)" in str(error)
    assert await hung_up(fake_server)


@pytest.mark.parametrize("api", APIS)
async def test_endless_empty_events_are_cut_by_their_bytes(
    fake_server: FakeModelServer, api: str
) -> None:
    # Events that carry no characters at all: only the bound on raw bytes sees them.
    fake_server.enqueue(endless_reply(api, piece=""))

    error, text, _ = await stream_until_error(make_provider(fake_server, api))

    assert error.kind == "output_limit" and text == ""
    assert fake_server.requests[-1].bytes_sent < 20_000_000
    assert "far more than a reply of 2,000 tokens" in str(error)


@pytest.mark.parametrize("api", APIS)
async def test_a_cut_after_a_partial_tool_call_says_what_had_arrived(
    fake_server: FakeModelServer, api: str
) -> None:
    call = ("write_file", {"path": "a.py", "content": "x" * 40})
    reply = (
        openai_reply(tool_calls=[call]) if api == "openai" else anthropic_reply(tool_calls=[call])
    )
    # Cut after 4 argument fragments: OpenAI sends a role chunk and the call's start before
    # them, Anthropic message_start, a ping and the block's start.
    fake_server.enqueue(cut_reply(reply, after_events=6 if api == "openai" else 7))

    error, text, _ = await stream_until_error(make_provider(fake_server, api))

    assert text == ""
    assert "before the reply began" not in str(error)
    assert "part of a write_file tool call (12 characters of arguments)" in str(error)
    assert "none of it shown or run" in str(error)
    assert error.retryable  # nothing was shown or run, so trying again is safe


def openai_chunk(content: str, *, usage: int | None = None, finish: str | None = None) -> dict:
    chunk: dict[str, Any] = {
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    }
    if usage is not None:
        chunk["usage"] = {"prompt_tokens": 10, "completion_tokens": usage}
    return chunk


async def test_the_providers_own_count_mid_stream_cuts_before_the_estimate_would(
    fake_server: FakeModelServer,
) -> None:
    # Few characters, but the server itself says it is past max_tokens: its count wins.
    fake_server.enqueue(
        sse_reply(openai_chunk("short", usage=LIMIT + 1), openai_chunk("more"), "[DONE]")
    )

    error, text, _ = await stream_until_error(make_provider(fake_server, "openai"))

    assert error.kind == "output_limit" and text == ""
    assert error.usage is not None and error.usage.output_tokens == LIMIT + 1


async def test_a_finished_reply_is_not_cut_for_the_count_that_comes_with_its_end(
    fake_server: FakeModelServer,
) -> None:
    fake_server.enqueue(
        sse_reply(openai_chunk("done"), openai_chunk("", usage=LIMIT + 1, finish="length"))
    )
    provider = make_provider(fake_server, "openai")

    items = [item async for item in provider.stream(ChatRequest())]
    await provider.aclose()

    assert [i.text for i in items if isinstance(i, TextPiece)] == ["done"]
