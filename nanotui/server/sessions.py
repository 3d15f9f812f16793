"""The sessions the service runs: each an `EngineSession` in a worktree of its own, whose
events are numbered and kept, so a client that reconnects with the last id it saw misses
nothing and sees nothing twice.

The engine is the terminal app's: the same policy, sandbox, checkpoints and log. What the
service adds is who may do what: a session belongs to the user who made it, and the
settings it runs with are the server's, tightened by the user's limits and chosen mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from nanotui.config import Settings
from nanotui.engine.approvals import ApprovalAnswer
from nanotui.engine.assembly import build_session
from nanotui.engine.facade import EngineSession
from nanotui.engine.run_result import turn_result
from nanotui.governance.ledger import Ledger
from nanotui.protocol.basics import MODE_ORDER, UserFacingError, new_session_id
from nanotui.protocol.checkpoints import RestoreResult
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    ErrorEvent,
    EventBase,
    RunResult,
    TurnFinished,
)
from nanotui.server.accounts import Account
from nanotui.server.team_ledger import TeamLedger
from nanotui.server.worktrees import Worktree, add_worktree, remove_worktree

WINDOW_S = 60.0
"""The window of a tokens-per-minute limit."""
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

    def publish(self, event: EventBase) -> NumberedEvent:
        """Number and keep an event, and wake every client following the session."""
        data = event.model_dump(mode="json")
        data["user"] = self.owner  # every event says whose session it is
        numbered = NumberedEvent(len(self.events) + 1, data["type"], json.dumps(data))
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

    def send(self, text: str) -> int:
        """Start a turn with the user's message; the id after which its events come."""
        if self.closed:
            raise SessionRefused(409, "This session is closed; start a new one.")
        if self._turn and not self._turn.done():
            raise SessionRefused(409, "A turn is running; wait for it to end or interrupt it.")
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

    def answer(self, call_id: str, answer: ApprovalAnswer) -> None:
        request = self.pending.get(call_id)
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
                }
                for entry in browsing.entries()
            ]
        finally:
            browsing.close()

    async def restore(self, checkpoint: str, files: list[str] | None) -> dict[str, object]:
        """Restore a checkpoint (or some of its files) between turns, as the app's browser
        does: a safety checkpoint first, the restore logged and sent to every follower."""
        if self._turn and not self._turn.done():
            raise SessionRefused(409, "A turn is running; restore once it has ended.")

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
                return browsing.restore(found[0], files)
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
        return {
            "restored": result.restored,
            "removed": result.removed,
            "left_in_place": result.left_in_place,
            "not_restored": [skipped.path for skipped in result.not_restored],
            "safety_checkpoint": result.safety_checkpoint.id if result.safety_checkpoint else None,
        }

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


def allowed_mode(server: Settings, asked: str | None) -> str:
    """The mode a session runs in: the one asked for if it is no looser than the server's."""
    ceiling = server.approval.mode
    if asked is None:
        return ceiling
    if asked not in MODE_ORDER:
        raise SessionRefused(422, f"{asked!r} is no mode; use one of {', '.join(MODE_ORDER)}.")
    if MODE_ORDER.index(asked) > MODE_ORDER.index(ceiling):
        raise SessionRefused(
            403, f"This server allows at most {ceiling} mode; ask for {ceiling} or a stricter one."
        )
    return asked


def allowed_model(server: Settings, asked: str | None) -> str | None:
    """The model a session uses: the server's, or one of `[server] models` if asked for."""
    offered = [m for m in [server.provider.model, *server.server.models] if m]
    if asked is None or asked == server.provider.model:
        return server.provider.model
    if asked not in offered:
        raise SessionRefused(
            403, f"This server does not offer {asked!r}; ask for one of: {', '.join(offered)}."
        )
    return asked


def _tighter(server_value: float | None, user_value: float | int | None) -> float | None:
    values = [v for v in (server_value, user_value) if v is not None]
    return float(min(values)) if values else None


def session_settings(
    server: Settings, account: Account, mode: str, model: str | None = None
) -> Settings:
    """The server's settings with the user's budgets, the chosen mode (only tighter) and
    the chosen model (one the server offers)."""
    budget = server.budget
    limits = account.limits
    tightened = budget.model_copy(
        update={
            "session_usd": _tighter(budget.session_usd, limits.get("session_usd")),
            "day_usd": _tighter(budget.day_usd, limits.get("day_usd")),
            "month_usd": _tighter(budget.month_usd, limits.get("month_usd")),
        }
    )
    approval = server.approval.model_copy(update={"mode": mode})
    provider = server.provider.model_copy(update={"model": model or server.provider.model})
    return server.model_copy(
        update={"budget": tightened, "approval": approval, "provider": provider}
    )


class SessionHub:
    """Every session the service runs, and the rules for who reaches which."""

    def __init__(self, settings: Settings, state: Path) -> None:
        self.settings = settings
        self.state = state
        self.sessions: dict[str, ServedSession] = {}
        self._starting: dict[str, int] = {}
        """Sessions being set up, per user."""

    def ledger_path(self, user: str) -> Path:
        """Each user's spending has a ledger of its own, so their day and month add up."""
        return self.state / "ledgers" / f"{user}.sqlite3"

    def team_ledger(self) -> Ledger:
        """Every request of every user, for the team's day budget."""
        return Ledger(self.state / "ledgers" / "team.sqlite3")

    def ledger_for(self, user: str) -> Ledger:
        """The user's ledger, which also records (and, with a team budget, reserves) each
        request in the team's."""
        team_day = self.settings.server.team_day_usd
        limit = math.inf if team_day is None else team_day
        return TeamLedger(self.ledger_path(user), self.team_ledger(), limit)

    def tokens_wait(self, account: Account) -> int:
        """0, or the seconds until the user (or the whole service) is back under their model
        tokens per minute."""
        own = account.limits.get("tpm")
        checks = [
            (Ledger(self.ledger_path(account.name)), int(own) if own is not None else 0),
            (self.team_ledger(), self.settings.server.tokens_per_minute),
        ]
        waits = [0.0]
        for ledger, limit in checks:
            if limit <= 0:
                continue
            recent = ledger.tokens_in_last(WINDOW_S)
            total = sum(tokens for _, tokens in recent)
            for age, tokens in recent:  # oldest first: how long until enough have aged out
                if total < limit:
                    break
                total -= tokens
                waits.append(WINDOW_S - age)
        return math.ceil(max(waits))

    def team_spend(self) -> dict[str, object]:
        today = self.team_ledger().spend_today()
        return {
            "today_usd": today.cost_usd,
            "today_unpriced_requests": today.unpriced_requests,
            "day_usd_limit": self.settings.server.team_day_usd,
        }

    def spend_of(self, account: Account) -> dict[str, object]:
        ledger = Ledger(self.ledger_path(account.name))
        budget = session_settings(self.settings, account, self.settings.approval.mode).budget
        today = ledger.spend_today()
        return {
            "user": account.name,
            "today_usd": today.cost_usd,
            "today_unpriced_requests": today.unpriced_requests,
            "month_usd": ledger.spent_this_month(),
            "limits": {
                "session_usd": budget.session_usd,
                "day_usd": budget.day_usd,
                "month_usd": budget.month_usd,
            },
        }

    def refuse_when_spent(self, served: ServedSession, account: Account) -> None:
        """402 before a turn starts when one of the user's budgets is already used up."""
        spend = self.spend_of(account)
        limits = spend["limits"]
        assert isinstance(limits, dict)
        used = [
            ("this session's", served.engine.spend.cost_usd or 0.0, limits["session_usd"]),
            ("today's", spend["today_usd"] or 0.0, limits["day_usd"]),
            ("this month's", spend["month_usd"], limits["month_usd"]),
        ]
        team = self.team_spend()
        used.append(("The team's day", team["today_usd"] or 0.0, team["day_usd_limit"]))
        for which, spent, limit in used:
            if limit is not None and spent >= limit:  # type: ignore[operator]
                raise SessionRefused(
                    402,
                    f"{which.capitalize()} budget is spent (${spent:.4f} of ${limit:.2f}); "
                    "ask an admin to raise it.",
                )

    async def create(
        self,
        account: Account,
        project: str,
        path: Path,
        mode: str | None,
        model: str | None = None,
    ) -> ServedSession:
        chosen = allowed_mode(self.settings, mode)
        chosen_model = allowed_model(self.settings, model)
        open_ones = [s for s in self.sessions.values() if s.owner == account.name and not s.closed]
        starting = self._starting.get(account.name, 0)
        if len(open_ones) + starting >= self.settings.server.max_sessions_per_user:
            raise SessionRefused(
                429,
                f"You have {len(open_ones)} sessions open, the most allowed; close one first.",
            )
        session_id = new_session_id()
        settings = session_settings(self.settings, account, chosen, chosen_model)

        def build() -> tuple[EngineSession, Worktree]:
            worktree = add_worktree(path, session_id, self.state / "worktrees" / session_id)
            try:
                engine = build_session(
                    settings,
                    worktree.path,
                    session_id=session_id,
                    ledger=self.ledger_for(account.name),
                    user=account.name,
                )
            except BaseException:
                remove_worktree(path, worktree)
                raise
            return engine, worktree

        # Counted while it is set up, so parallel requests cannot pass the limit together.
        self._starting[account.name] = starting + 1
        try:
            engine, worktree = await asyncio.to_thread(build)
        except UserFacingError as exc:
            if isinstance(exc, SessionRefused):
                raise
            # The server's own set-up (its model, a project without commits): the user can
            # only pass it on to the admin, and is told no folder of the server's.
            sentence = without_folders(str(exc), [self.state, path])
            raise SessionRefused(503, f"The server cannot start a session: {sentence}") from exc
        finally:
            self._starting[account.name] -= 1
        served = ServedSession(engine, account.name, project, worktree, path)
        self.sessions[served.id] = served
        return served

    def find(self, account: Account, session_id: str, *, to_act: bool = True) -> ServedSession:
        """The user's session; an admin may also look at anyone's. Another user's session is
        answered exactly as one that does not exist."""
        served = self.sessions.get(session_id)
        if served is None or (served.owner != account.name and (to_act or not account.admin)):
            raise SessionRefused(404, f"There is no session {session_id!r}.")
        return served

    def visible_to(self, account: Account, every_user: bool = False) -> list[ServedSession]:
        return [
            s
            for s in self.sessions.values()
            if s.owner == account.name or (every_user and account.admin)
        ]

    async def close_all(self) -> None:
        """At shutdown: every session's log ends cleanly; worktrees stay for a look."""
        for served in list(self.sessions.values()):
            await served.close(remove_worktree_folder=False)
