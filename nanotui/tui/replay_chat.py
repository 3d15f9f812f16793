"""Logged events shown in a conversation view again, the way the main screen showed them.

Used by replay, and on the main screen for a resumed session's earlier conversation
(`--continue`, `sessions resume`, `/resume`): prompts, replies (streamed when the replay
streams them), tool calls with their status and result, notices and errors. Nothing here
runs a tool or calls a model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    ErrorEvent,
    EventBase,
    Notice,
    SessionStarted,
    TextDelta,
    ToolCallProposed,
    ToolResult,
    ToolStarted,
    TurnFinished,
    UserMessage,
)
from nanotui.tui.widgets.chat_view import ChatView

CHAT_TYPES = frozenset(
    {
        "user_message",
        "text_delta",
        "assistant_message",
        "tool_call_proposed",
        "approval_requested",
        "approval_resolved",
        "tool_started",
        "tool_result",
        "notice",
        "error",
        "turn_finished",
        "session_started",
    }
)
"""The record types that change the conversation view."""
PASSING_TYPES = frozenset({"text_delta", "approval_requested", "tool_started"})
"""Shown all at once, these are left out: the reply and the tool call's result say the rest."""
EARLIER_LIMIT = 200
"""A resumed session shows at most the last this many entries of its earlier conversation."""
EARLIER_CLASS = "-earlier"
"""The class of every chat entry shown from an earlier conversation (styled as such)."""


async def show_in_chat(chat: ChatView, event: EventBase) -> None:
    """Show one logged event in `chat` as the main screen showed it live."""
    if isinstance(event, UserMessage):
        await chat.add_user(event.text)
    elif isinstance(event, TextDelta):
        await chat.stream_text(event.text)
    elif isinstance(event, AssistantMessage):
        await chat.end_reply(event.text, interrupted=event.interrupted)
    elif isinstance(event, ToolCallProposed):
        await chat.add_tool_call(event.call_id, event.tool, event.summary, event.arguments)
    elif isinstance(event, ApprovalRequested | ApprovalResolved | ToolStarted | ToolResult):
        block = chat.tool_call(event.call_id)
        if block is None:
            return
        if isinstance(event, ApprovalRequested):
            block.status = "waiting"
        elif isinstance(event, ApprovalResolved):
            statuses = {"reject": "rejected", "interrupted": "interrupted"}
            block.status = statuses.get(event.decision, "approved")
        elif isinstance(event, ToolStarted):
            block.status = "running"
        else:
            block.show_outcome(event)
    elif isinstance(event, Notice):
        await chat.update_notice(event.text, event.level, slot=event.slot)
    elif isinstance(event, ErrorEvent):
        await chat.add_notice(event.text, "error")
    elif isinstance(event, TurnFinished):
        await chat.end_reply("", interrupted=event.status == "cancelled")
        chat.end_turn()  # a prompt after it starts a turn; one before it was a hook's
        if event.status == "cancelled":
            for block in chat.unfinished_tool_calls():
                block.status = "interrupted"
        if event.status not in ("done", "error"):
            await chat.add_notice(event.reason or f"The turn ended: {event.status}.", "warning")
    elif isinstance(event, SessionStarted):
        # The session resumed: a turn the process was killed in never finished in the log.
        chat.end_turn()


def settled(events: Sequence[EventBase]) -> list[EventBase]:
    """The events that change the conversation view when all are shown at once."""
    return [e for e in events if e.type in CHAT_TYPES and e.type not in PASSING_TYPES]


async def show_earlier_conversation(
    chat: ChatView, session: str, messages: int, load: Callable[[str], list[EventBase]]
) -> None:
    """Show the conversation a resumed `session` goes on with, marked as earlier.

    `messages` is how many messages the model was given from it; `load` reads what the
    session said (the session port's `earlier_events`) and runs on a thread. Its entries are
    shown as the main screen showed them, between a line that says where they come from and
    one that says the conversation goes on from there; turns before the last few fold away
    (`ChatView.fold_earlier_turns`).
    """
    events = settled(await asyncio.to_thread(load, session))
    first = len(chat.children)
    await chat.add_notice(f"Earlier in session {session}, from its log:")
    if len(events) > EARLIER_LIMIT:
        left_out = len(events) - EARLIER_LIMIT
        events = events[left_out:]
        await chat.add_notice(
            f"The first {left_out:,} entries are left out here; "
            f"`nanotui audit replay {session}` shows them all."
        )
    for event in events:
        await show_in_chat(chat, event)
    for entry in chat.children[first:]:
        entry.add_class(EARLIER_CLASS)
    chat.end_turn()  # also when the log stops mid-turn: the next prompt starts a turn
    await chat.fold_earlier_turns()
    noun = "message" if messages == 1 else "messages"
    await chat.add_notice(
        f"Resumed session {session}: the model has its {messages} {noun}; it goes on from here."
    )
