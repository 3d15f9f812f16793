"""Logged events shown in a conversation view again, the way the main screen showed them.

Used by replay: prompts, replies (streamed when the replay streams them), tool calls with
their status and result, notices and errors. Nothing here runs a tool or calls a model.
"""

from __future__ import annotations

from nanotui.engine.events import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    ErrorEvent,
    EventBase,
    Notice,
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
    }
)
"""The record types that change the conversation view."""


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
            block.status = "rejected" if event.decision == "reject" else "approved"
        elif isinstance(event, ToolStarted):
            block.status = "running"
        else:
            block.show_outcome(event)
    elif isinstance(event, Notice):
        await chat.add_notice(event.text, event.level)
    elif isinstance(event, ErrorEvent):
        await chat.add_notice(event.text, "error")
    elif isinstance(event, TurnFinished):
        await chat.end_reply("", interrupted=event.status == "cancelled")
        if event.status == "cancelled":
            for block in chat.unfinished_tool_calls():
                block.status = "interrupted"
        if event.status not in ("done", "error"):
            await chat.add_notice(event.reason or f"The turn ended: {event.status}.", "warning")
