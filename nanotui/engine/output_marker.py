"""The session's marker on the notes that close tool output, kept across a resume.

The marker (`security.injection.new_output_marker`) is what tells the model a real note from
one forged in a file, so a resumed session must go on with the marker its logged results
carry, and a conversation taken from another session is sent re-marked with this one's:
the system prompt names one marker, and a note with another reads as forged. The
conversation keeps the notes as logged; they are re-marked on the way to the model.
The marker is read back from the log's results, which no file the agent reads can reach.
"""

from __future__ import annotations

from nanotui.protocol.model_io import Message
from nanotui.security.injection import marker_of, new_output_marker, remarked


def marker_for(messages: list[Message]) -> str:
    """The marker of the last note in a resumed conversation, or a new one (a log from
    before markers had notes without one)."""
    found = [marker_of(message.content) for message in messages if message.role == "tool"]
    return next((mark for mark in reversed(found) if mark), "") or new_output_marker()


def marked(messages: list[Message], marker: str) -> list[Message]:
    """`messages` with every tool result's closing note carrying `marker` (copies where
    one carried another)."""
    out: list[Message] = []
    for message in messages:
        if message.role == "tool":
            content = remarked(message.content, marker)
            if content != message.content:
                message = message.model_copy(update={"content": content})
        out.append(message)
    return out
