"""The session's marker on the notes that close tool output, kept across a resume.

The marker (`security.injection.new_output_marker`) is what tells the model a real note from
one forged in a file, so a resumed session must go on with the marker its logged results
carry, and a conversation taken from another session must be re-marked with this one's:
the system prompt names one marker, and a note with another reads as forged.
The marker is read back from the log's results, which no file the agent reads can reach.
"""

from __future__ import annotations

from nanotui.protocol.model_io import Message
from nanotui.security.injection import marker_of, new_output_marker, remarked


def marker_for(messages: list[Message]) -> str:
    """The marker of the last note in a resumed conversation, or a new one; all its notes
    are re-marked with it (a log from before markers had notes without one)."""
    found = [marker_of(message.content) for message in messages if message.role == "tool"]
    marker = next((mark for mark in reversed(found) if mark), "") or new_output_marker()
    mark_history(messages, marker)
    return marker


def mark_history(messages: list[Message], marker: str) -> None:
    """Close every tool result of `messages` with `marker`'s note, in place."""
    for message in messages:
        if message.role == "tool":
            message.content = remarked(message.content, marker)
