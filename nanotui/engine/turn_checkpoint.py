"""The turn's first checkpoint, taken while the turn's first request goes out to the model.

Only tool calls need it, so a fast model's first words need not wait for git (at 50k files
a checkpoint takes about 0.15 s). Its events are held until the turn waits for it: one sent
inside a streaming reply would split the reply, and with it the redaction of a secret cut at
that point. A cancel does not cut the snapshot short: the task is shielded, and stays
pending until it is done, so an interrupted turn still ends after it.
"""

from __future__ import annotations

import asyncio

from nanotui.engine.safety_net import SafetyNet
from nanotui.protocol.events import EventBase


class TurnCheckpoint:
    """At most one turn's first checkpoint being taken, and its held events."""

    def __init__(self) -> None:
        self._task: asyncio.Task[list[EventBase]] | None = None

    @property
    def pending(self) -> bool:
        return self._task is not None

    def start(self, safety: SafetyNet, prompt: str) -> None:
        self._task = asyncio.create_task(_take(safety, prompt))

    async def taken(self) -> list[EventBase]:
        """Wait for it if it is still being taken; its events, once."""
        task = self._task
        if task is None:
            return []
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._task = None

    async def taken_despite_cancels(self) -> list[EventBase]:
        """As `taken`, waiting on through further cancels (the turn is ending already)."""
        events: list[EventBase] = []
        while self._task is not None:
            try:
                events += await self.taken()
            except asyncio.CancelledError:
                continue
        return events


async def _take(safety: SafetyNet, prompt: str) -> list[EventBase]:
    held: list[EventBase] = []
    await safety.before_turn(prompt, emit=held.append)
    return held
