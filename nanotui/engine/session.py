"""Conversation state, and rebuilding it from a session log to resume."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nanotui.engine.events import (
    AssistantMessage,
    EventBase,
    SessionStarted,
    ToolResult,
    UserMessage,
)
from nanotui.providers.base import Message, Usage


@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    def note_files(self, files: Iterable[str]) -> None:
        for path in files:
            if path not in self.files_changed:
                self.files_changed.append(path)


def rebuild_conversation(events: Iterable[EventBase]) -> tuple[Conversation, SessionStarted | None]:
    """The messages the model saw, in order, from a session's events."""
    conversation = Conversation()
    started: SessionStarted | None = None
    for event in events:
        if isinstance(event, SessionStarted) and started is None:
            started = event
        elif isinstance(event, UserMessage):
            conversation.messages.append(Message(role="user", content=event.text))
        elif isinstance(event, AssistantMessage):
            conversation.messages.append(
                Message(role="assistant", content=event.text, tool_calls=event.tool_calls)
            )
        elif isinstance(event, ToolResult):
            conversation.messages.append(
                Message(
                    role="tool",
                    content=event.content,
                    tool_call_id=event.call_id,
                    tool_name=event.tool,
                    is_error=not event.ok,
                )
            )
            conversation.note_files(event.files_changed)
    answer_unfinished_calls(conversation.messages)
    return conversation, started


def answer_unfinished_calls(messages: list[Message]) -> None:
    """Give every tool call that has no result one saying it was interrupted.

    A log cut short by a crash can end between a call and its result; APIs refuse a history
    with an unanswered call, so the conversation could not go on without this.
    """
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    index = 0
    while index < len(messages):
        message = messages[index]
        index += 1
        if message.role != "assistant":
            continue
        # Results belong right after their assistant message, before anything else.
        while index < len(messages) and messages[index].role == "tool":
            index += 1
        for call in message.tool_calls:
            if call.id not in answered:
                messages.insert(
                    index,
                    Message(
                        role="tool",
                        content="Interrupted before this call finished; it may not have run.",
                        tool_call_id=call.id,
                        tool_name=call.name,
                        is_error=True,
                    ),
                )
                answered.add(call.id)
                index += 1
