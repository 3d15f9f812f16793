"""Tools described in the prompt for models without native tool calls, and the auto switch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_model_server import FakeModelServer, cut_reply, error_reply, openai_reply

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
)
from nanotui.providers.base import Provider
from nanotui.providers.openai_compat import OpenAICompatProvider
from nanotui.providers.text_tools import (
    AutoToolCallingProvider,
    TagScanner,
    TextToolCallingProvider,
    parse_tool_call,
    text_request,
)

READ_FILE = ToolSpec(
    name="read_file",
    description="Read a file of the workspace.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)
REQUEST = ChatRequest(
    system="You are careful.",
    messages=[Message(role="user", content="Read a.py")],
    tools=[READ_FILE],
)
CALL_TAG = '<tool_call>{"name": "read_file", "arguments": {"path": "a.py"}}</tool_call>'


def inner_provider(server: FakeModelServer) -> OpenAICompatProvider:
    config = ProviderConfig(base_url=server.openai_base_url, model="gemma:2b", read_timeout_s=5)
    return OpenAICompatProvider(config, None)


async def collect(provider: Provider, request: ChatRequest = REQUEST) -> list[StreamItem]:
    return [item async for item in provider.stream(request)]


def texts(items: list[StreamItem]) -> list[str]:
    return [item.text for item in items if isinstance(item, TextPiece)]


def calls(items: list[StreamItem]) -> list[ToolCall]:
    return [item.call for item in items if isinstance(item, ToolCallPiece)]


def scan(fragments: list[str]) -> list[tuple[str, str]]:
    scanner = TagScanner()
    parts = [part for fragment in fragments for part in scanner.feed(fragment)]
    return parts + scanner.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 11, 1000])
def test_scanner_finds_tags_split_anywhere_and_never_emits_tag_text(size: int) -> None:
    stream = f"Let me look <at> it. {CALL_TAG}\nThen {CALL_TAG} done <tool"
    fragments = [stream[i : i + size] for i in range(0, len(stream), size)]

    parts = scan(fragments)

    text = "".join(content for kind, content in parts if kind == "text")
    assert text == "Let me look <at> it. \nThen  done <tool"
    assert [content for kind, content in parts if kind == "call"] == [
        '{"name": "read_file", "arguments": {"path": "a.py"}}'
    ] * 2
    text_parts = [content for kind, content in parts[:-1] if kind == "text"]
    assert not any("<tool_c" in piece or "tool_call>" in piece for piece in text_parts)


def test_scanner_takes_an_unclosed_tag_at_the_end_as_a_call() -> None:
    parts = scan(["Sure.<tool_call>", '{"name": "x", "arguments": {}}', "</tool_ca"])

    assert parts == [("text", "Sure."), ("call", '{"name": "x", "arguments": {}}')]


def test_parse_tolerates_fences_and_keeps_unparseable_text_raw() -> None:
    fenced = '\n```json\n{"name": "read_file", "arguments": {"path": "b.py"}}\n```\n'
    assert parse_tool_call(fenced, "c1") == ToolCall(
        id="c1", name="read_file", arguments='{"path": "b.py"}'
    )
    broken = '{"name": "read_file", "arguments": {"path": "b.py"'
    assert parse_tool_call(broken, "c2") == ToolCall(id="c2", name="read_file", arguments=broken)
    assert parse_tool_call("nonsense", "c3").name == "unknown"


def test_history_turns_tool_calls_and_results_into_tagged_text() -> None:
    request = ChatRequest(
        system="Base.",
        tools=[READ_FILE],
        messages=[
            Message(role="user", content="Read a.py"),
            Message(
                role="assistant",
                content="Reading.",
                tool_calls=[ToolCall(id="call_text_1", name="read_file", arguments='{"path":"a"}')],
            ),
            Message(role="tool", tool_call_id="call_text_1", tool_name="read_file", content="A=1"),
            Message(role="user", content="And now?"),
        ],
    )

    converted = text_request(request)

    assert converted.tools == []
    assert converted.system.startswith("Base.")
    assert "## read_file" in converted.system and '"path"' in converted.system
    assert '<tool_call>{"name": "TOOL_NAME", "arguments":' in converted.system
    assert [m.role for m in converted.messages] == ["user", "assistant", "user"]
    assert converted.messages[1].content == (
        'Reading.\n<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>'
    )
    assert converted.messages[2].content == (
        '<tool_result name="read_file" id="call_text_1">\nA=1\n</tool_result>\n\nAnd now?'
    )
    assert all(not m.tool_calls and m.tool_call_id is None for m in converted.messages)


async def test_text_provider_parses_streamed_tags_and_sends_no_native_tools(
    fake_server: FakeModelServer,
) -> None:
    provider = TextToolCallingProvider(inner_provider(fake_server))
    reply = f"I will read it.{CALL_TAG}"
    fake_server.enqueue(openai_reply(text=reply, chunk_size=3), openai_reply(text="Hi."))

    items = await collect(provider)
    second = await collect(provider)
    await provider.aclose()

    assert "".join(texts(items)) == "I will read it."
    assert not any("<" in piece for piece in texts(items))
    [call] = calls(items)
    assert call == ToolCall(id="call_text_1", name="read_file", arguments='{"path": "a.py"}')
    assert items[-1] == StreamDone("tool_calls")
    assert second[-1] == StreamDone("end")
    body = fake_server.requests[0].body
    assert "tools" not in body
    assert "<tool_call>" in body["messages"][0]["content"]
    assert "Read a file of the workspace." in body["messages"][0]["content"]


async def test_interrupted_text_provider_reports_only_the_text_it_showed(
    fake_server: FakeModelServer,
) -> None:
    provider = TextToolCallingProvider(inner_provider(fake_server))
    # role chunk, "Hello ", "<tool_c", then the connection drops
    fake_server.enqueue(cut_reply(openai_reply(text="Hello <tool_call>{", chunk_size=6), 3))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert caught.value.kind == "interrupted"
    assert caught.value.partial_text == "Hello "


OLLAMA_NO_TOOLS: dict[str, Any] = {
    "error": {
        "message": "registry.ollama.ai/library/gemma:2b does not support tools",
        "type": "api_error",
    }
}


async def test_auto_switches_to_text_tools_when_the_server_says_no_tools(
    fake_server: FakeModelServer,
) -> None:
    provider = AutoToolCallingProvider(inner_provider(fake_server))
    fake_server.enqueue(
        error_reply(400, OLLAMA_NO_TOOLS),
        openai_reply(text=f"Reading.{CALL_TAG}"),
        openai_reply(text="Done."),
    )

    items = await collect(provider)
    later = await collect(provider)
    await provider.aclose()

    [call] = calls(items)
    assert call.name == "read_file" and json.loads(call.arguments) == {"path": "a.py"}
    assert "".join(texts(items)) == "Reading."
    assert provider.using_text_tools and "tools in text" in provider.label
    first, retried, next_turn = (r.body for r in fake_server.requests)
    assert first["tools"][0]["function"]["name"] == "read_file"
    assert "tools" not in retried and "tools" not in next_turn
    assert texts(later) == ["Done", "."]


async def test_auto_keeps_native_tools_for_other_errors(fake_server: FakeModelServer) -> None:
    provider = AutoToolCallingProvider(inner_provider(fake_server))
    fake_server.enqueue(error_reply(400, {"error": {"message": "bad temperature"}}))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert caught.value.kind == "bad_request"
    assert not provider.using_text_tools
    assert len(fake_server.requests) == 1


async def test_interruption_inside_a_held_back_tag_is_retryable(
    fake_server: FakeModelServer,
) -> None:
    provider = TextToolCallingProvider(inner_provider(fake_server))
    fake_server.enqueue(cut_reply(openai_reply(text='<tool_call>{"name": "ls"', chunk_size=6), 3))

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.aclose()

    assert caught.value.retryable and caught.value.partial_text == ""
