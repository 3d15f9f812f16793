"""The request deadline holds before the reply's headers too: a real loopback listener that
never answers, or trickles its status line a byte at a time (never silent for the read
timeout), is cut at provider.request_deadline_s rather than waited on for ever."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from hang_guard import guarded
from test_endless_streams import APIS

from nanotui.config import ProviderConfig
from nanotui.protocol.model_io import ChatRequest, Message, ProviderError
from nanotui.providers.anthropic import AnthropicProvider
from nanotui.providers.base import Provider
from nanotui.providers.openai_compat import OpenAICompatProvider

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + b"X-Pad: " + b"a" * 10_000


@contextlib.asynccontextmanager
async def listener(trickle: bool) -> AsyncIterator[int]:
    """A loopback server that reads the request and then says nothing, or trickles headers
    that never end (bounded: 0.1 s a byte, and the server closes after 30 s anyway)."""
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            started = time.monotonic()
            for byte in HEADERS if trickle else b"":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
                if time.monotonic() - started > 30:
                    break
            await asyncio.sleep(30)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


def make_provider(port: int, api: str) -> Provider:
    settings = {
        "connect_timeout_s": 2,
        "read_timeout_s": 30,
        "request_deadline_s": 2,
        "model": "fake-model",
    }
    if api == "openai":
        config = ProviderConfig(
            kind="openai-compatible", base_url=f"http://127.0.0.1:{port}/v1", **settings
        )
        return OpenAICompatProvider(config, None)
    config = ProviderConfig(kind="anthropic", base_url=f"http://127.0.0.1:{port}", **settings)
    return AnthropicProvider(config, "test-key")


@pytest.mark.parametrize("trickle", [False, True], ids=["silent", "trickled"])
@pytest.mark.parametrize("api", APIS)
async def test_a_server_that_never_finishes_its_headers_is_cut_at_the_deadline(
    api: str, trickle: bool
) -> None:
    async with listener(trickle) as port:
        provider = make_provider(port, api)
        request = ChatRequest(messages=[Message(role="user", content="hi")])
        started = time.monotonic()

        async def consume() -> None:
            async for _ in provider.stream(request):
                pass

        try:
            with pytest.raises(ProviderError) as caught:
                await guarded(consume())
        finally:
            await provider.aclose()

    assert time.monotonic() - started >= 1.9  # not cut before its deadline
    assert caught.value.kind == "deadline"
    assert "ran for its whole 2 s (provider.request_deadline_s) with no reply yet" in str(
        caught.value
    )
