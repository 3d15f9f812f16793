"""The turn's first checkpoint, taken while the turn's first request goes out to the model.

Only tool calls need it, so a fast model's first words need not wait for git (at 50k files
a checkpoint of 600 changed files takes 0.15-0.25 s). Its events are held until the turn
waits for it: one sent inside a streaming reply would split the reply, and with it the
redaction of a secret cut at that point. The snapshot runs shielded: a cancel of the turn
does not cut it short.

A turn that is ending (interrupted, or stopped by an error) waits for it at most
`ENDING_WAIT_S`, and not through a second interrupt: a snapshot held up that long (another
nanotui's lock on the same work tree, a stuck file system) is left to finish on its own. It
keeps the safety net's lock meanwhile, so no tool of a later turn runs before it, and its
events go to the session log when it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nanotui.engine.safety_net import SafetyNet
from nanotui.protocol.events import EventBase, Notice

ENDING_WAIT_S = 2.0
Record = Callable[[EventBase], None]


class TurnCheckpoint:
    """At most one turn's first checkpoint being taken, and its held events."""

    def __init__(self, record: Record) -> None:
        self._record = record
        """Where the events of a snapshot left to finish on its own go (the log)."""
        self._task: asyncio.Task[list[EventBase]] | None = None

    @property
    def pending(self) -> bool:
        return self._task is not None

    def start(self, safety: SafetyNet, prompt: str) -> None:
        if self._task is not None:  # a turn ended without collecting it: never lose it
            self._leave(self._task)
        self._task = asyncio.create_task(_take(safety, prompt))

    async def taken(self) -> list[EventBase]:
        """Wait for it if it is still being taken; its events, once."""
        task = self._task
        if task is None:
            return []
        try:
            events = await asyncio.shield(task)
        except asyncio.CancelledError:
            # The waiter was cancelled, not the snapshot: a result that came in the same
            # turn of the loop stays for the next call.
            if task.cancelled():
                self._task = None
            raise
        except BaseException:
            self._task = None
            raise
        self._task = None
        return events

    async def taken_as_the_turn_ends(self) -> list[EventBase]:
        """Its events for a turn that is ending, with what became of it. Never raises: an
        interrupt of this wait, or its time running out, leaves it (see the module)."""
        task = self._task
        if task is None:
            return []
        try:
            return await asyncio.wait_for(self.taken(), ENDING_WAIT_S)
        except (TimeoutError, asyncio.CancelledError):
            if task.done() and not task.cancelled() and task.exception() is None:
                self._task = None
                return task.result()  # it came in just as the wait ended
            self._task = None
            self._leave(task)
            return [
                Notice(
                    level="warning",
                    text="The turn's checkpoint is still being taken (git is held up); "
                    "it is recorded in the session log once it is done.",
                )
            ]
        except Exception as exc:
            return [Notice(level="warning", text=f"The turn's checkpoint failed: {exc}")]

    def _leave(self, task: asyncio.Task[list[EventBase]]) -> None:
        def record(done: asyncio.Task[list[EventBase]]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            try:
                for event in done.result():
                    self._record(event)
            except (OSError, ValueError):
                pass  # the session closed first: the checkpoint itself is kept all the same

        task.add_done_callback(record)


async def _take(safety: SafetyNet, prompt: str) -> list[EventBase]:
    held: list[EventBase] = []
    await safety.before_turn(prompt, emit=held.append)
    return held
