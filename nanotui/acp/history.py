"""A logged conversation told to the editor again, for `session/load`.

What the model will go on from, as the editor shows a live turn: the user's prompts, the
replies, and each tool call with how it ended (a change as its diff: the file may have
changed since).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nanotui.acp import updates
from nanotui.protocol.events import (
    AssistantMessage,
    EventBase,
    ToolCallProposed,
    ToolResult,
    UserMessage,
)


def history_updates(
    events: Iterable[EventBase], workspace: Path, engine_kind: Callable[[str], str | None]
) -> list[Any]:
    """The `session/update`s that retell `events`; `engine_kind` names a tool's kind."""
    told: list[Any] = []
    proposed: set[str] = set()
    prompts = 0  # the models' call ids repeat from turn to turn; these ids must not
    for event in events:
        if isinstance(event, UserMessage):
            prompts += 1
            told.append(updates.user_text(event.text))
        elif isinstance(event, AssistantMessage) and event.text:
            told.append(updates.message_text(event.text))
        elif isinstance(event, ToolCallProposed):
            proposed.add(event.call_id)
            kind = updates.tool_kind(event.tool, engine_kind(event.tool))
            told.append(updates.proposed_call(event, kind, past_id(prompts, event.call_id)))
        elif isinstance(event, ToolResult) and event.call_id in proposed:
            acp_id = past_id(prompts, event.call_id)
            told.append(updates.finished_call(event, workspace, acp_id, just_now=False))
    return told


def past_id(prompt: int, call_id: str) -> str:
    """A logged call's id for the editor: apart from the live turns' ids."""
    return f"past-{prompt}/{call_id}"
