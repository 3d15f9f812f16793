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
    return conversation, started
