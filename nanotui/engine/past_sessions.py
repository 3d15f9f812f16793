"""Finding past sessions: by id prefix, or the latest one in a folder (to resume them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nanotui.basics import UserFacingError
from nanotui.engine.events import SessionStarted, UserMessage


class SessionNotFound(UserFacingError):
    """No session, or more than one, matches; the message is one sentence for the user."""


@dataclass(frozen=True)
class SessionSummary:
    session: str
    path: Path
    workspace: str
    label: str
    first_prompt: str


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
    return SessionSummary(
        session=path.stem,
        path=path,
        workspace=started.workspace if started else "",
        label=started.label if started else "",
        first_prompt=first_prompt,
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
