"""One session the service runs: an `EngineSession` in a worktree of its own, whose events
are numbered and kept, so a client that reconnects with the last id it saw misses nothing
and sees nothing twice.

The engine is the terminal app's: the same policy, sandbox, checkpoints and log. Who may
reach which session, and with what settings, is the hub's (`hub.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from nanotui.engine.facade import EngineSession
from nanotui.engine.run_result import turn_result
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.checkpoints import RestoreResult, to_json
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    ErrorEvent,
    EventBase,
    RunResult,
    TurnFinished,
)
from nanotui.server.worktrees import Worktree, remove_worktree

KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies from closing a quiet event stream."""


class SessionRefused(UserFacingError):
    """A request about sessions that cannot be done; `status` is its HTTP status."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True)
class NumberedEvent:
    """One event as clients get it: its id in the session, its type and its JSON."""

    id: int
    type: str
    data: str


class ServedSession:
    """One user's session on the service."""

    def __init__(
        self,
        engine: EngineSession,
        owner: str,
        project: str,
        worktree: Worktree,
        project_path: Path,
    ) -> None:
        self.engine = engine
        self.id = engine.session_id
        self.owner = owner
        self.project = project
        self.project_path = project_path
        self.worktree = worktree
        self.events: list[NumberedEvent] = []
        self.pending: dict[str, ApprovalRequested] = {}
        """Approvals waiting for an answer, by call id."""
        self.closed = False
        self._grown = asyncio.Event()
        self._turn: asyncio.Task[None] | None = None
        self._closing = asyncio.Lock()
        self._removed = False
        self._holding = False
        """True while a between-turns change (restore, resume, a checkpoint) runs on a thread:
        no turn may start under it."""

    @property
    def state(self) -> str:
        if self.closed:
            return "closed"
        if self.pending:
            return "waiting"
        return "running" if self._turn and not self._turn.done() else "idle"

    def describe(self) -> dict[str, object]:
        spend = self.engine.spend
        return {
            "id": self.id,
            "user": self.owner,
            "project": self.project,
            "branch": self.worktree.branch,
            "base": self.worktree.base,
            "mode": self.engine.mode,
            "model": self.engine.model_label,
            "state": self.state,
            "last_event_id": len(self.events),
            "pending_approvals": sorted(self.pending),
            "cost_usd": spend.cost_usd,
            "unpriced_requests": spend.unpriced_requests,
        }

    # ---- events -------------------------------------------------------------------------

    def public_json(self, event: EventBase) -> dict[str, object]:
        """An event as clients get it: whose session it is, and no folder of the server's
        (the worktree's path, in `session_started` and in messages, becomes the project's
        name)."""
        data = event.model_dump(mode="json")
        data["user"] = self.owner  # every event says whose session it is
        text = without_folders(json.dumps(data), [self.worktree.path], self.project)
        return json.loads(text)

    def publish(self, event: EventBase) -> NumberedEvent:
        """Number and keep an event, and wake every client following the session."""
        data = self.public_json(event)
        numbered = NumberedEvent(len(self.events) + 1, str(data["type"]), json.dumps(data))
        self.events.append(numbered)
        self._grown.set()
        self._grown = asyncio.Event()
        return numbered

    async def follow(self, after: int) -> AsyncIterator[NumberedEvent | None]:
        """The events after id `after`, then each new one as it comes, for ever; None now and
        then while nothing happens (for a keep-alive)."""
        seen = max(0, after)
        while True:
            while seen < len(self.events):
                seen += 1
                yield self.events[seen - 1]
            if self.closed:  # nothing more will come
                return
            grown = self._grown
            try:
                await asyncio.wait_for(grown.wait(), KEEPALIVE_S)
            except TimeoutError:
                yield None

    # ---- commands -----------------------------------------------------------------------

    def refuse_unless_idle(self) -> None:
        """409 unless the session is open, between turns, and no change made between turns
        (a restore, a resume) holds it: the one check before a turn or such a change."""
        if self.closed:
            raise SessionRefused(409, "This session is closed; start a new one.")
        if self._turn and not self._turn.done():
            raise SessionRefused(409, "A turn is running; wait for it to end or interrupt it.")
        if self._holding:
            raise SessionRefused(409, "The session is being restored or resumed; try again.")

    def send(self, text: str) -> int:
        """Start a turn with the user's message; the id after which its events come."""
        self.refuse_unless_idle()
        after = len(self.events)
        self._turn = asyncio.create_task(self._run(text))
        return after

    async def _run(self, text: str) -> None:
        finished: TurnFinished | None = None
        errors: list[str] = []
        try:
            async for event in self.engine.turn(text):
                if isinstance(event, ApprovalRequested):
                    self.pending[event.call_id] = event
                elif isinstance(event, ApprovalResolved):
                    self.pending.pop(event.call_id, None)
                elif isinstance(event, TurnFinished):
                    finished = event
                elif isinstance(event, ErrorEvent):
                    errors.append(event.text)
                self.publish(event)
        except Exception as exc:  # a bug, not a turn that ended badly: say so, end the turn
            logging.getLogger("nanotui.serve").exception("session %s: the turn failed", self.id)
            failure = ErrorEvent(text=f"The turn failed on the server ({type(exc).__name__}).")
            errors.append(failure.text)
            self.publish(self.engine.record(failure))
        finally:
            self.pending.clear()
        # Every turn ends with its result, as `nanotui run --json` does: clients wait for it.
        try:
            result = await turn_result(self.engine, finished, errors)
        except Exception:
            logging.getLogger("nanotui.serve").exception("session %s: no result", self.id)
            spend = self.engine.spend
            result = RunResult(
                status="error",
                exit_code=1,
                usage=self.engine.usage,
                cost_usd=spend.cost_usd,
                unpriced_requests=spend.unpriced_requests,
                session=self.id,
                message="The turn's result could not be made on the server.",
            )
        self.publish(result)

    def answer(self, call_id: str, shown_sha256: str | None, answer: ApprovalAnswer) -> None:
        request = self.pending.get(call_id)
        if request is not None and shown_sha256 not in (None, request.shown_sha256):
            raise SessionRefused(
                409, f"Approval {call_id!r} is not the one you were shown; look at it again."
            )
        if request is None or not self.engine.resolve_approval(request, answer):
            raise SessionRefused(404, f"No approval {call_id!r} is waiting in this session.")

    def checkpoints(self) -> list[dict[str, object]]:
        """The session's checkpoints, newest first, with what changed since the one before."""
        browsing = self.engine.checkpoint_browsing()
        try:
            return [
                {
                    "id": entry.checkpoint.id,
                    "short_id": entry.checkpoint.short_id,
                    "label": entry.checkpoint.label,
                    "kind": entry.checkpoint.kind,
                    "created": entry.checkpoint.created.isoformat(),
                    "files": entry.files,
                    "added": entry.added,
                    "removed": entry.removed,
                    "checkpoint": to_json(entry.checkpoint),
                }
                for entry in browsing.entries()
            ]
        finally:
            browsing.close()

    @contextlib.asynccontextmanager
    async def between_turns(self) -> AsyncIterator[None]:
        """Hold the session for a change made between turns (no turn may start under it)."""
        self.refuse_unless_idle()
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    async def restore(
        self, checkpoint: str, files: list[str] | None, delete_also: list[str] | None = None
    ) -> dict[str, object]:
        """Restore a checkpoint (or some of its files) between turns, as the app's browser
        does: a safety checkpoint first, the restore logged and sent to every follower."""
        async with self.between_turns():
            return await self._restore(checkpoint, files, delete_also)

    async def _restore(
        self, checkpoint: str, files: list[str] | None, delete_also: list[str] | None
    ) -> dict[str, object]:

        def work() -> tuple[RestoreResult, list[EventBase]]:
            browsing = self.engine.checkpoint_browsing()
            try:
                found = [
                    e.checkpoint
                    for e in browsing.entries()
                    if checkpoint in (e.checkpoint.id, e.checkpoint.short_id)
                ]
                if not found:
                    raise SessionRefused(404, f"This session has no checkpoint {checkpoint!r}.")
                return browsing.restore(found[0], files, delete_also or ())
            finally:
                browsing.close()

        try:
            result, events = await asyncio.to_thread(work)
        except SessionRefused:
            raise
        except UserFacingError as exc:  # e.g. a path outside: said without the server's folders
            sentence = without_folders(str(exc), [self.worktree.path], "the session's folder")
            raise SessionRefused(409, f"The restore was not done: {sentence}") from exc
        for event in events:
            self.publish(self.engine.record(event))
        return to_json(result)

    def interrupt(self) -> bool:
        """Stop the running turn; False when none runs."""
        if not self._turn or self._turn.done():
            return False
        self.engine.cancel()
        return True

    async def close(self, remove_worktree_folder: bool = True) -> None:
        """End the session: stop its turn, close the engine, remove the worktree folder (the
        branch stays: it is the session's result). Safe to call again, or at once twice."""
        async with self._closing:
            if not self.closed:
                self.closed = True
                if self._turn and not self._turn.done():
                    self.engine.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(self._turn, 10)
                await self.engine.close()
                self._grown.set()
            if remove_worktree_folder and not self._removed:
                await asyncio.to_thread(remove_worktree, self.project_path, self.worktree)
                self._removed = True


def without_folders(sentence: str, folders: list[Path], name: str = "a server folder") -> str:
    """The sentence with the server's folders (as given and as resolved) replaced by `name`:
    paths never leave the server."""
    spellings = {str(f) for f in folders} | {str(f.resolve()) for f in folders}
    for spelling in sorted(spellings, key=len, reverse=True):
        sentence = sentence.replace(spelling, name)
    return sentence
