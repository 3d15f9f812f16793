"""What watches a session's events besides its log (telemetry): told of each one after the
log has it, never able to change or stop the session."""

from __future__ import annotations

from typing import Protocol

from nanotui.protocol.events import EventBase, Notice


class EventObserver(Protocol):
    def observe(self, event: EventBase) -> None:
        """One event, just logged (or, for streamed text, just emitted). Must not raise."""

    def notice(self) -> Notice | None:
        """A warning for the person, once (its export failed): the session logs and shows it."""
