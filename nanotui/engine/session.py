"""Resume: a logged session's conversation, rebuilt by folding `Conversation.apply` over
its events (the same function the live agent applies them with)."""

from __future__ import annotations

from collections.abc import Iterable

from nanotui.engine.conversation import Conversation
from nanotui.protocol.events import EventBase, SessionStarted


def rebuild_conversation(
    events: Iterable[EventBase], conversation: Conversation | None = None
) -> tuple[Conversation, SessionStarted | None]:
    """The messages the model saw, in order, from a session's events, and how it started."""
    conversation = conversation or Conversation()
    started: SessionStarted | None = None
    for event in events:
        if isinstance(event, SessionStarted) and started is None:
            started = event
        conversation.apply(event)
    conversation.answer_unfinished_calls()
    return conversation, started


def load_conversation(session_id: str, _seen: frozenset[str] = frozenset()) -> Conversation:
    """The conversation of a logged session (following its own /resume, never in a loop)."""
    from nanotui.governance.audit import read_events, session_path

    if session_id in _seen:
        return Conversation()
    seen = _seen | {session_id}
    following = Conversation(load=lambda other: load_conversation(other, seen).messages)
    rebuild_conversation(read_events(session_path(session_id)), following)
    # Whoever goes on with it resumes other sessions afresh, with no chain to guard.
    return Conversation(following.messages, following.files_changed)
