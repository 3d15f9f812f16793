"""Conversation state, and rebuilding it from a session log to resume."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nanotui.protocol.events import (
    AssistantMessage,
    ConversationCleared,
    ConversationResumed,
    EventBase,
    SessionStarted,
    ToolResult,
    UserMessage,
)
from nanotui.protocol.model_io import Message, Usage


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
        elif isinstance(event, ConversationCleared):
            conversation.messages.clear()
        elif isinstance(event, ConversationResumed):
            conversation.messages[:] = load_conversation(event.session).messages
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


def load_conversation(session_id: str, _seen: frozenset[str] = frozenset()) -> Conversation:
    """The conversation of a logged session (following its own /resume, never in a loop)."""
    from nanotui.governance.audit import read_events, session_path

    if session_id in _seen:
        return Conversation()
    events = []
    for event in read_events(session_path(session_id)):
        if isinstance(event, ConversationResumed):
            # Inline the resumed session's messages so the loop guard above sees the chain;
            # they replace what was said before, as /resume did when it ran.
            events.append(ConversationCleared())
            for message in load_conversation(event.session, _seen | {session_id}).messages:
                events.append(_as_event(message))
            continue
        events.append(event)
    conversation, _ = rebuild_conversation(events)
    return conversation


def _as_event(message: Message) -> EventBase:
    if message.role == "user":
        return UserMessage(text=message.content)
    if message.role == "assistant":
        return AssistantMessage(text=message.content, tool_calls=message.tool_calls)
    return ToolResult(
        call_id=message.tool_call_id or "",
        tool=message.tool_name or "",
        ok=not message.is_error,
        content=message.content,
    )
