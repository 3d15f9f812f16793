"""The session's events as ACP `session/update`s: streamed text, tool calls and their diffs.

Pure translation, no I/O but reading a changed file back to show it whole: one engine event
becomes at most a few updates, and the way a turn ended becomes an ACP stop reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acp import (
    start_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    update_agent_message_text,
    update_tool_call,
    update_user_message_text,
)
from acp.schema import (
    AgentMessageChunk,
    FileEditToolCallContent,
    ToolCallLocation,
    ToolCallProgress,
    ToolCallStart,
    ToolKind,
    UserMessageChunk,
)

from nanotui.protocol.basics import clipped
from nanotui.protocol.change_texts import texts_after_write, texts_before_write
from nanotui.protocol.diff_parse import PatchError
from nanotui.protocol.events import (
    ApprovalRequested,
    ErrorEvent,
    Notice,
    ToolCallProposed,
    ToolResult,
    TurnFinished,
)
from nanotui.protocol.model_io import CUT_OFF_KINDS

OUTPUT_CHARS = 8_000
"""How much of a tool's output an editor is shown (the model got up to 60,000)."""

SEARCH_TOOLS = frozenset({"find_files", "search_text"})
"""Read tools an editor shows as a search rather than a read (its own icon in Zed)."""

_ACP_KINDS: dict[str, ToolKind] = {"read": "read", "write": "edit", "command": "execute"}


def tool_kind(tool: str, engine_kind: str | None) -> ToolKind:
    """The ACP kind of a tool whose engine kind is read, write or command (None: unknown)."""
    if tool in SEARCH_TOOLS:
        return "search"
    if tool == "network":  # the allowlist's question about a command's connection
        return "fetch"
    return _ACP_KINDS.get(engine_kind or "", "other")


def message_text(text: str) -> AgentMessageChunk:
    return update_agent_message_text(text)


def user_text(text: str) -> UserMessageChunk:
    return update_user_message_text(text)


def said_by_nanotui(event: Notice | ErrorEvent) -> AgentMessageChunk:
    """A notice or an error, set apart from the model's words in the editor's thread."""
    return update_agent_message_text(f"\n\n> nanotui: {event.text}\n\n")


def proposed_call(event: ToolCallProposed, kind: ToolKind, acp_id: str) -> ToolCallStart:
    """A tool call the model asked for, before anything decided about it. `acp_id` is its id
    for the editor, unique in the session (models reuse theirs from one reply to the next)."""
    return start_tool_call(
        acp_id,
        event.summary or event.tool,
        kind=kind,
        status="pending",
        raw_input=_decoded(event.arguments),
    )


def approval_call(event: ApprovalRequested, workspace: Path, acp_id: str) -> ToolCallProgress:
    """What an approval shows: the change as old and new text, or the command and its sandbox,
    with the reasons the policy asked."""
    content: list[Any] = []
    locations = None
    if event.kind == "write" and event.path and event.diff is not None:
        target = workspace / event.path
        locations = [ToolCallLocation(path=str(target))]
        content.append(_change(target, event.diff, before=event.old_sha256 is not None))
    elif event.kind == "external":
        # An MCP tool: its arguments as pretty-printed JSON.
        content.append(tool_content(text_block(event.details or event.summary)))
    else:
        shown = event.command or event.summary
        where = f" (sandbox: {event.sandbox})" if event.sandbox else ""
        content.append(tool_content(text_block(f"```sh\n{shown}\n```\n{where}".strip())))
    if event.reasons:
        content.append(tool_content(text_block("\n".join(event.reasons))))
    return update_tool_call(acp_id, title=event.summary, content=content, locations=locations)


def started_call(acp_id: str) -> ToolCallProgress:
    return update_tool_call(acp_id, status="in_progress")


def finished_call(
    event: ToolResult, workspace: Path, acp_id: str, *, just_now: bool = True
) -> ToolCallProgress:
    """A tool call's end: completed or failed, its output, and for a write the change made.
    Not `just_now` (a logged call told again), the file on disk may have changed since: the
    change is shown as its diff."""
    content: list[Any] = []
    if event.ok and event.diff and len(event.files_changed) == 1:
        target = workspace / event.files_changed[0]
        content.append(_change(target, event.diff, before=None) if just_now else _diff(event.diff))
    output = event.output.strip()
    if output:
        content.append(tool_content(text_block(clipped(output, OUTPUT_CHARS))))
    return update_tool_call(
        acp_id,
        status="completed" if event.ok else "failed",
        content=content or None,
        raw_output=event.data or None,
    )


def with_texts_redacted(update: ToolCallProgress, redact: Callable[[str], str]) -> ToolCallProgress:
    """`update` with its changes' whole texts redacted. Read back from disk after the write,
    they are not the event's (redacted) diff: they hold the rest of the file too."""
    if not update.content:
        return update
    content = [
        item.model_copy(
            update={
                "old_text": None if item.old_text is None else redact(item.old_text),
                "new_text": redact(item.new_text),
            }
        )
        if isinstance(item, FileEditToolCallContent)
        else item
        for item in update.content
    ]
    return update.model_copy(update={"content": content})


def stop_reason(finished: TurnFinished | None, *, prompt_reached_model: bool, cut_off: bool) -> str:
    """How a turn's end reads in ACP.

    `refusal` tells the editor the prompt is not part of the conversation: only right when a
    hook refused the prompt before the model saw it. A turn in which the user or the policy
    refused an action ended normally; its tool calls show what was refused.
    """
    status = finished.status if finished else "error"
    if status == "cancelled":
        return "cancelled"
    if status == "budget" or (status == "error" and cut_off):
        return "max_tokens"
    if status == "max_turns":
        return "max_turn_requests"
    if status == "refused" and not prompt_reached_model:
        return "refusal"
    return "end_turn"


def is_cut_off(event: ErrorEvent) -> bool:
    """An error that says the reply was cut at the output limit or the budget."""
    return event.kind in CUT_OFF_KINDS


def _change(target: Path, diff: str, *, before: bool | None) -> FileEditToolCallContent | Any:
    """A change as ACP's diff content (absolute path, old and new text); the unified diff
    as text when the file no longer fits it. `before`: not yet written (True: the file
    exists), None: written."""
    try:
        if before is None:
            old, new = texts_after_write(target, diff)
        else:
            old, new = texts_before_write(target, diff, exists=before)
    except (PatchError, OSError, UnicodeDecodeError):
        return _diff(diff)
    return tool_diff_content(str(target), new, old)


def _diff(diff: str) -> Any:
    return tool_content(text_block(f"```diff\n{diff}```"))


def _decoded(arguments: str) -> Any:
    if not arguments:
        return None
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
