"""Conversation.apply: the one set of rules by which events change what the model sees."""

from __future__ import annotations

from nanotui.engine.conversation import Conversation, starts_over
from nanotui.protocol.events import (
    AssistantMessage,
    ConversationCleared,
    ConversationResumed,
    Notice,
    TextDelta,
    ToolResult,
    UsageReported,
    UserMessage,
)
from nanotui.protocol.model_io import Message, ToolCall, Usage

CALLS = [
    ToolCall(id="c1", name="read_file", arguments='{"path": "a"}'),
    ToolCall(id="c2", name="write_file", arguments='{"path": "b", "content": ""}'),
]


def test_messages_follow_the_events_and_other_events_change_nothing() -> None:
    conversation = Conversation().apply_all(
        [
            UserMessage(text="hi"),
            TextDelta(text="Look"),
            AssistantMessage(text="Looking.", tool_calls=CALLS),
            ToolResult(call_id="c1", tool="read_file", ok=True, content="a"),
            ToolResult(
                call_id="c2", tool="write_file", ok=False, content="no", files_changed=["b"]
            ),
            UsageReported(usage=Usage(input_tokens=3), model="m"),
            Notice(text="by the way"),
            AssistantMessage(text="Half a", interrupted=True),
        ]
    )
    assert conversation.messages == [
        Message(role="user", content="hi"),
        Message(role="assistant", content="Looking.", tool_calls=CALLS),
        Message(role="tool", content="a", tool_call_id="c1", tool_name="read_file"),
        Message(
            role="tool", content="no", tool_call_id="c2", tool_name="write_file", is_error=True
        ),
        Message(role="assistant", content="Half a"),
    ]
    assert conversation.files_changed == ["b"]


def test_clear_and_resume_start_over_and_keep_the_files_changed() -> None:
    earlier = [Message(role="user", content="earlier")]
    conversation = Conversation(load={"other": earlier}.__getitem__)
    conversation.apply_all(
        [
            UserMessage(text="one"),
            ToolResult(call_id="c", tool="write_file", ok=True, content="", files_changed=["x"]),
            ConversationResumed(session="other", messages=1),
        ]
    )
    assert conversation.messages == earlier
    conversation.apply_all([UserMessage(text="two"), ConversationCleared()])
    assert conversation.messages == []
    assert conversation.files_changed == ["x"]
    assert starts_over(UserMessage(text="three"), conversation.load) is None


def test_unanswered_calls_are_the_last_replys_calls_without_a_result() -> None:
    conversation = Conversation().apply_all(
        [
            UserMessage(text="go"),
            AssistantMessage(text="", tool_calls=CALLS),
            ToolResult(call_id="c1", tool="read_file", ok=True, content="a"),
        ]
    )
    assert conversation.unanswered_calls() == [CALLS[1]]
    conversation.answer_unfinished_calls()
    assert conversation.unanswered_calls() == []
    assert conversation.messages[-1].tool_call_id == "c2" and conversation.messages[-1].is_error
