"""Finding past sessions (by id prefix, the latest in a folder) and what to show of them
when one is resumed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nanotui.engine.conversation import starts_over
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.events import EventBase, SessionStarted, UserMessage
from nanotui.protocol.session_port import SessionSummary


class SessionNotFound(UserFacingError):
    """No session, or more than one, matches; the message is one sentence for the user."""


def summarize(path: Path) -> SessionSummary:
    """Where and with which model a logged session ran, and what it was first asked."""
    from nanotui.governance.audit import read_events

    started: SessionStarted | None = None
    first_prompt = ""
    for event in read_events(path):
        if isinstance(event, SessionStarted) and started is None:
            started = event
        elif isinstance(event, UserMessage):
            first_prompt = event.text
            break
    try:
        last_active: datetime | None = datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        last_active = None
    return SessionSummary(
        session=path.stem,
        path=path,
        workspace=started.workspace if started else "",
        label=started.label if started else "",
        first_prompt=first_prompt,
        last_active=last_active,
    )


def find_session(prefix: str) -> Path:
    """The log of the one session whose id starts with `prefix`."""
    from nanotui.governance.audit import list_sessions

    matches = [p for p in list_sessions() if p.stem.startswith(prefix)]
    if not matches:
        raise SessionNotFound(f"No session matches {prefix!r}; `nanotui sessions list` shows them.")
    if len(matches) > 1:
        raise SessionNotFound(f"{len(matches)} sessions match {prefix!r}; give more of the id.")
    return matches[0]


def latest_session_in(workspace: Path) -> str:
    """The id of the newest session that worked in `workspace` (for `--continue`)."""
    from nanotui.governance.audit import list_sessions

    wanted = str(workspace.resolve())
    for path in list_sessions():  # newest first
        if summarize(path).workspace == wanted:
            return path.stem
    raise SessionNotFound(f"No earlier session worked in {wanted}; start one without --continue.")


def conversation_events(session_id: str, _seen: frozenset[str] = frozenset()) -> list[EventBase]:
    """The logged events of the conversation a resumed session goes on with, oldest first.

    They are the ones the model's context is rebuilt from (`engine.session`), by the same
    rule: after the session's last /clear, and where it resumed another session, that
    one's in their place (never in a loop).
    """
    from nanotui.governance.audit import read_events, session_path

    if session_id in _seen:
        return []
    seen = _seen | {session_id}
    events: list[EventBase] = []
    for event in read_events(session_path(session_id)):
        start = starts_over(event, lambda other: conversation_events(other, seen))
        if start is None:
            events.append(event)
        else:
            events[:] = start
    return events
