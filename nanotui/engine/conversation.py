"""The conversation the model sees, changed only by applying the engine's events to it.

A live agent applies each event as it emits it; resume folds the same `apply` over a
session's log (`engine/session`). One set of rules for both, so a resumed conversation is
the one the model saw when the session ran. Tool results are kept as they were logged; the
agent re-marks their closing notes with its own marker when it sends them (`output_marker`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from nanotui.protocol.events import (
    AssistantMessage,
    ConversationCleared,
    ConversationResumed,
    EventBase,
    ToolResult,
    UserMessage,
)
from nanotui.protocol.model_io import Message, ToolCall

LoadMessages = Callable[[str], list[Message]]
"""The messages of another logged session, by its id (what a `ConversationResumed` brings in)."""

UNFINISHED_CALL = "Interrupted before this call finished; it may not have run."

Said = TypeVar("Said")


def starts_over(event: EventBase, load: Callable[[str], list[Said]]) -> list[Said] | None:
    """What a conversation goes on from after `event`, when the event starts it over: nothing
    after /clear, the resumed session's (by `load`) after /resume; None for any other event.

    What was said before is dropped in both cases, as the command did when it ran. The
    conversation's messages and the events a resumed session shows both follow this rule.
    """
    if isinstance(event, ConversationCleared):
        return []
    if isinstance(event, ConversationResumed):
        return load(event.session)
    return None


def _from_session_logs(session: str) -> list[Message]:
    # Imported here: engine.session folds this module's `apply` over the logs.
    from nanotui.engine.session import load_conversation

    return load_conversation(session).messages


@dataclass
class Conversation:
    """The messages the model is sent (before the system prompt), and the files changed."""

    messages: list[Message] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    """Every file a tool result changed, in the order first changed (a /clear keeps them)."""
    load: LoadMessages = field(default=_from_session_logs, compare=False, repr=False)
    """Where a resumed session's messages come from: its log, unless a test says otherwise."""

    def apply(self, event: EventBase) -> None:
        """Change the conversation as `event` says; events that say nothing of it are ignored."""
        if isinstance(event, UserMessage):
            self.messages.append(Message(role="user", content=event.text))
        elif isinstance(event, AssistantMessage):
            # A reply cut off keeps the text that had arrived; the model sees it as said.
            self.messages.append(
                Message(role="assistant", content=event.text, tool_calls=event.tool_calls)
            )
        elif isinstance(event, ToolResult):
            self.messages.append(
                Message(
                    role="tool",
                    content=event.content,
                    tool_call_id=event.call_id,
                    tool_name=event.tool,
                    is_error=not event.ok,
                )
            )
            self._note_files(event.files_changed)
        elif (start := starts_over(event, self.load)) is not None:
            self.messages[:] = start

    def apply_all(self, events: Iterable[EventBase]) -> Conversation:
        for event in events:
            self.apply(event)
        return self

    def unanswered_calls(self) -> list[ToolCall]:
        """The last reply's tool calls that have no result yet (an interrupt left them)."""
        messages = self.messages
        last = next(
            (i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "assistant"), None
        )
        if last is None:
            return []
        answered = {m.tool_call_id for m in messages[last + 1 :] if m.role == "tool"}
        return [call for call in messages[last].tool_calls if call.id not in answered]

    def answer_unfinished_calls(self) -> None:
        """Give every tool call that has no result one saying it was interrupted.

        A log cut short by a crash can end between a call and its result; APIs refuse a
        history with an unanswered call, so the conversation could not go on without this.
        A live agent answers its own interrupted calls with events; this is for logs only.
        """
        messages = self.messages
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
                            content=UNFINISHED_CALL,
                            tool_call_id=call.id,
                            tool_name=call.name,
                            is_error=True,
                        ),
                    )
                    answered.add(call.id)
                    index += 1

    def _note_files(self, files: Iterable[str]) -> None:
        for path in files:
            if path not in self.files_changed:
                self.files_changed.append(path)
