"""Messages the turn worker posts to the screen: the worker never touches a widget."""

from __future__ import annotations

from textual.message import Message

from nanotui.protocol.events import EventBase


class EngineEvent(Message):
    """One event from `Agent.turn()`, delivered to the UI in order."""

    def __init__(self, event: EventBase) -> None:
        super().__init__()
        self.event = event
